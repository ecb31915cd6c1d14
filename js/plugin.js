// The plugin API object (`wmpfVoip`): one identity (a parent's openId, or none for the face-pay
// device) on one backend. Promise-based like wmpf-voip; events; end-page navigation; the
// bind-contact page's logic. Arguments are checked by the wasm core, never here, except for the
// synchronous navigation settings, which must work before the core has loaded.
import { VoipCgiError, forApi, invalidArgument, notSupported, ok, readOptions, toVoipError } from './errors.js';
import { HttpBackend } from './http-backend.js';
import { LocalBackend } from './local-backend.js';
import { callCore } from './seam.js';

/**
 * The wmpf-voip API level implemented (the default compatVersion). The core's own constant is
 * what instances use; this copy exists so the export is there before the wasm loads, and
 * tests/js/tables.test.mjs checks the two agree.
 */
export const PLUGIN_VERSION = '2.4.0';

/** Public inspection results → what the bind page needs to finish them (no hidden state). */
const INSPECTIONS = new WeakMap();

const BIND_PAGE = 'pages/bind-contact/bind-contact';
const CALL_PAGE = 'pages/call/call';
const END_PAGE_KEYS = ['BindContact', 'Call'];
const ROUTE_TYPES = ['redirectTo', 'switchTab', 'reLaunch'];

/** Control characters or a lone surrogate: not text a page path may hold. */
function badText(s) {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || (c >= 0xdc00 && c <= 0xdfff)) return true;
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return true;
      i++;
    }
  }
  return false;
}

// Checked here rather than in the core: navigation settings are synchronous and must work
// before the wasm has loaded (hosts set them in App.onLaunch).
function checkEndPage(api, req) {
  const { key, url, options, routeType } = readOptions(api, req, ['key', 'url', 'options', 'routeType'], 'argument');
  if (END_PAGE_KEYS.indexOf(key) < 0) {
    throw invalidArgument(api, 'key must be "BindContact" or "Call"');
  }
  if (typeof url !== 'string' || url === '' || url.length > 1024 || badText(url)) {
    throw invalidArgument(api, 'url must be a page path of 1–1024 characters, without control characters');
  }
  if (options !== undefined && (typeof options !== 'string' || options.length > 1024 || badText(options))) {
    throw invalidArgument(api, 'options must be a query string of at most 1024 characters, without control characters');
  }
  if (routeType !== undefined && ROUTE_TYPES.indexOf(routeType) < 0) {
    throw invalidArgument(api, 'routeType must be "redirectTo", "switchTab" or "reLaunch"');
  }
  return { key, url, options: options || '', routeType: routeType || 'redirectTo' };
}

/**
 * An instance. `settle()` resolves `{ core, backend, openId, compatVersion }` once; until then
 * asynchronous calls wait for it, and synchronous ones (events, end pages) work on local state.
 */
export class VoipPlugin {
  constructor(settle, host, navigate) {
    this._settle = settle;
    this._settings = null;
    this._pending = null;
    this._host = host;
    this._navigate = navigate;
    this._listeners = [];
    this._endPages = {};
    this._enter = {};
    this._onload = {};
    /** roomId -> the once-a-second `calling` timer of a connected call this instance is in. */
    this._connected = new Map();
    this._attachedTo = null;
  }

  /**
   * Call events reach this instance once it listens or calls: the backend routes each call's
   * events to the device that made it and to every instance of the listener's openId.
   */
  _attach(s) {
    if (this._attachedTo !== s.backend) {
      this._attachedTo = s.backend;
      s.backend._attach(this, s.openId);
    }
  }

  /** One call's events for this instance, in order (from the backend). */
  _hear(roomId, events) {
    for (const ev of events) {
      const name = ev.eventName;
      if (name === 'startVoip' && !this._connected.has(roomId)) this._tick(roomId);
      if (name === 'endVoip') this._stopCalling(roomId);
      this._emit(name, ev.data, roomId);
      if (name === 'endVoip') this._goToEndPage('Call');
    }
  }

  /** `calling { keepTime }` once a second while connected, generated here from the backend's clock. */
  _tick(roomId) {
    const backend = this._attachedTo;
    const timer = setInterval(() => {
      let keepTime;
      try {
        keepTime = backend._keepTime(roomId);
      } catch (_) {
        keepTime = undefined; // a closed or dead backend: the call is over for this instance
      }
      if (keepTime === undefined) this._stopCalling(roomId);
      else this._emit('calling', { keepTime }, roomId);
    }, 1000);
    if (timer && typeof timer.unref === 'function') timer.unref();
    this._connected.set(roomId, timer);
  }

  _stopCalling(roomId) {
    const timer = this._connected.get(roomId);
    if (timer !== undefined) {
      clearInterval(timer);
      this._connected.delete(roomId);
    }
  }

  _ready() {
    if (this._settings) return Promise.resolve(this._settings);
    if (!this._pending) {
      this._pending = Promise.resolve()
        .then(() => this._settle())
        .then(
          (s) => (this._settings = s),
          (e) => {
            this._pending = null;
            throw e;
          },
        );
    }
    return this._pending;
  }

  /** Runs `fn(settings)`; errors become VoipErrors of `api`. */
  _op(api, fn) {
    const run = (s) => {
      try {
        return Promise.resolve(fn(s)).catch((e) => Promise.reject(toVoipError(api, e)));
      } catch (e) {
        return Promise.reject(toVoipError(api, e));
      }
    };
    return this._settings ? run(this._settings) : this._ready().then(run, (e) => Promise.reject(forApi(api, e)));
  }

  /**
   * `_op` for one backend call whose promise is the answer: the backend's promises settle with
   * VoipErrors already, so they are returned as they are (no second promise, no extra hop).
   */
  _direct(api, fn) {
    return this._settings ? fn(this._settings) : this._op(api, fn);
  }

  _emit(eventName, data, roomId) {
    const event = { eventName, data };
    if (roomId !== undefined) {
      event.roomId = roomId;
      event.groupId = roomId;
    }
    for (const listener of this._listeners.slice()) {
      try {
        listener(event);
      } catch (e) {
        // One listener's failure must not stop the others, nor the plugin.
        if (typeof console !== 'undefined') console.error('[campus-voip] an onVoipEvent listener threw', e);
      }
    }
  }

  _goToEndPage(key) {
    const page = this._endPages[key];
    if (!page) return;
    const target = page.options ? page.url + '?' + page.options : page.url;
    try {
      if (this._navigate) {
        this._navigate({ key, url: page.url, options: page.options, routeType: page.routeType, path: target });
      } else if (this._host.navigate) {
        this._host.navigate(page.routeType, target);
      }
    } catch (e) {
      if (typeof console !== 'undefined') console.error('[campus-voip] navigation to the ' + key + ' end page failed', e);
    }
  }

  // ---- consent (SPEC §3.2) ------------------------------------------------------------

  authorizeVoip() {
    return this._direct('authorizeVoip', (s) => s.backend.authorizeVoip(s.openId));
  }

  revokeVoip() {
    return this._direct('revokeVoip', (s) => s.backend.revokeVoip(s.openId));
  }

  /** `{ errCode: 0, errMsg, granted }`: whether this instance's user granted VoIP consent. */
  getVoipConsent() {
    return this._direct('getVoipConsent', (s) => s.backend.getVoipConsent(s.openId));
  }

  // ---- contacts (SPEC §3.3) -----------------------------------------------------------

  bindVoipAdminContact(args) {
    return this._direct('bindVoipAdminContact', (s) => s.backend.bindVoipAdminContact(s.openId, args));
  }

  getBindContactPath(args) {
    return this._direct('getBindContactPath', (s) => s.backend.getBindContactPath(s.openId, args));
  }

  getVoipBindContactList(args) {
    return this._direct('getVoipBindContactList', (s) => s.backend.getVoipBindContactList(s.openId, args));
  }

  deleteVoipBindContact(args) {
    return this._direct('deleteVoipBindContact', (s) => s.backend.deleteVoipBindContact(s.openId, args));
  }

  transerAdmin(args) {
    return this._direct('transerAdmin', (s) => s.backend.transerAdmin(s.openId, args));
  }

  // ---- the bind-contact page (SPEC §3.4) ----------------------------------------------

  _entered(query) {
    this._enter = { path: BIND_PAGE, query };
    this._onload = query;
  }

  _finish(result) {
    const data = { type: result.type, errMsg: result.errMsg, userId: result.userId };
    this._entered(result.query);
    this._emit('bindContact', data);
    this._goToEndPage('BindContact');
    return data;
  }

  inspectBindContactPath(path) {
    return this._op('inspectBindContactPath', (s) =>
      s.backend.inspectBindContactPath(s.openId, path).then((r) => {
        this._entered(r.query);
        const pub = { userId: r.userId, userName: r.userName, userAvatar: r.userAvatar, status: r.status };
        if (r.expiresAt !== undefined) pub.expiresAt = r.expiresAt;
        INSPECTIONS.set(pub, r);
        return pub;
      }),
    );
  }

  /**
   * For the plugin's own bind page: finishes the page with the blocking outcome (rows 1–6) of
   * `inspection` (what inspectBindContactPath resolved), without binding anyone (emits
   * bindContact, opens the end page). Resolves undefined when there is nothing to finish.
   */
  _finishInspection(inspection) {
    const r = inspection && typeof inspection === 'object' ? INSPECTIONS.get(inspection) : undefined;
    if (!r || r.status === 'ready') return Promise.resolve(undefined);
    INSPECTIONS.delete(inspection);
    return Promise.resolve(this._finish({ type: r.status, errMsg: r.errMsg, userId: r.userId, query: r.query }));
  }

  acceptBindContactPath(path) {
    return this._op('acceptBindContactPath', (s) =>
      s.backend.acceptBindContactPath(s.openId, path).then((r) => this._finish(r)),
    );
  }

  declineBindContactPath(path) {
    return this._op('declineBindContactPath', (s) =>
      s.backend.declineBindContactPath(s.openId, path).then((r) => this._finish(r)),
    );
  }

  // ---- events and navigation (SPEC §3.5) ----------------------------------------------

  onVoipEvent(listener) {
    if (typeof listener !== 'function') throw invalidArgument('onVoipEvent', 'listener must be a function');
    this._listeners.push(listener);
    if (this._settings) this._attach(this._settings);
    else this._ready().then((s) => this._listeners.length > 0 && this._attach(s), () => undefined);
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      const i = this._listeners.indexOf(listener);
      if (i >= 0) this._listeners.splice(i, 1);
    };
  }

  setVoipEndPagePath(req) {
    const page = checkEndPage('setVoipEndPagePath', req);
    this._endPages[page.key] = page;
  }

  getPluginEnterOptions() {
    return this._enter;
  }

  getPluginOnloadOptions() {
    return this._onload;
  }

  // ---- calls (SPEC §3.6, §3.7) -------------------------------------------------------

  /**
   * The device calls a parent. The call's first events (`joinedRoomByCaller`, or `busy` …) are
   * delivered before the promise resolves: listen first, and match events by their roomId.
   */
  initByCaller(req) {
    return this._op('initByCaller', (s) => {
      this._attach(s);
      return s.backend.admitCall(this, req, s.compatVersion).then((r) => {
        if (r.isSuccess) {
          return ok('initByCaller', { isSuccess: true, roomId: r.roomId, groupId: r.roomId, chargeType: r.chargeType });
        }
        const errObj = new VoipCgiError(r.errCode, r.code, 'initByCaller:fail ' + r.message);
        return { isSuccess: false, errCode: r.errCode, errMsg: errObj.errMsg, errObj };
      });
    });
  }

  /** **[ours]** The listener answers a ringing call (`incomingVoip`). */
  answerVoip(args) {
    return this._op('answerVoip', (s) => (this._attach(s), s.backend.actOnCall(this, 'answerVoip', args)));
  }

  /** **[ours]** The listener rejects a ringing call. */
  rejectVoip(args) {
    return this._op('rejectVoip', (s) => (this._attach(s), s.backend.actOnCall(this, 'rejectVoip', args)));
  }

  /**
   * Ends this instance's call (no argument) or the call `roomId`, from either side: a ringing
   * call is cancelled (device) or rejected (listener), a connected one hung up. Nothing happens
   * when no call matches. Synchronous on the local backend; over the service the events
   * follow the request.
   */
  forceHangUpVoip(roomId) {
    if (roomId === null) roomId = undefined;
    if (roomId !== undefined && typeof roomId !== 'string') {
      throw invalidArgument('forceHangUpVoip', 'roomId must be a string, got ' + typeof roomId);
    }
    const s = this._settings;
    if (!s) return; // not settled: no call of ours yet
    s.backend.hangUp(this, roomId);
  }

  /**
   * The plugin's call page (`navigateTo` it with `?roomId=…&isCaller=0`): in a Mini Program
   * `plugin-private://<pluginAppId>/pages/call/call`, elsewhere the page path itself.
   */
  get CALL_PAGE_PATH() {
    const appId = this._host.kind === 'wx' ? this._host.pluginAppId() : undefined;
    return appId ? 'plugin-private://' + appId + '/' + CALL_PAGE : CALL_PAGE;
  }

  /** For the plugin's call page: records its query for getPluginOnloadOptions(). */
  _callPageLoaded(query) {
    this._onload = query && typeof query === 'object' ? query : {};
  }

  // ---- ours -----------------------------------------------------------------------------

  /**
   * The backend this instance runs on, only if it was created with `dev: true` (its helpers
   * such as issueVoipToken mint tokens and export data, so no ordinary instance hands it out).
   */
  getDevBackend() {
    return this._op('getDevBackend', (s) => {
      if (!s.backend.dev) {
        throw notSupported('getDevBackend', 'this instance runs on a backend without dev: true; its helpers are development-only');
      }
      return s.backend;
    });
  }

  /** The instance's identity: its openId, or undefined for a device instance. */
  getOpenId() {
    return this._op('getOpenId', (s) => s.openId);
  }

  /** Stops this instance's timers and event delivery. The backend is the caller's to close. */
  dispose() {
    for (const roomId of Array.from(this._connected.keys())) this._stopCalling(roomId);
    if (this._attachedTo) this._attachedTo._detach(this);
    this._attachedTo = null;
    this._listeners.length = 0;
  }
}

/** `createVoipPlugin({ backend, openId, compatVersion, navigate })` for a host. */
export function pluginFactory(host, loadCore) {
  return async function createVoipPlugin(options) {
    const api = 'createVoipPlugin';
    options = readOptions(api, options, ['backend', 'openId', 'compatVersion', 'navigate'], 'options');
    const settings = await resolveSettings(api, host, loadCore, options);
    const navigate = options.navigate;
    if (navigate !== undefined && typeof navigate !== 'function') {
      throw invalidArgument(api, 'navigate must be a function');
    }
    const instance = new VoipPlugin(() => settings, host, navigate);
    instance._settings = settings;
    return instance;
  };
}

/**
 * Checks `{ backend, openId, compatVersion }` with the core; resolves the settings. On an http
 * backend the openId is the session's (an openId option must be the same); a backend without
 * getSession makes device instances.
 */
export async function resolveSettings(api, host, loadCore, options) {
  const core = await loadCore(host);
  const backend = options.backend;
  const http = backend instanceof HttpBackend;
  if (!http && !(backend instanceof LocalBackend)) {
    throw invalidArgument(api, 'backend must be a backend from this copy of campus-voip (createLocalBackend() or createHttpBackend())');
  }
  // A backend whose core died stays dead (its instances would only say so later).
  if (!http) callCore(backend._core, api, () => undefined);
  const who = http ? await backend._who(api) : undefined;
  return callCore(core, api, () => {
    let openId = options.openId !== undefined ? core.checkOpenId(options.openId) : undefined;
    if (http) {
      const own = who === undefined ? undefined : core.checkOpenId(who);
      if (options.openId !== undefined && openId !== own) {
        throw invalidArgument(
          api,
          own === undefined
            ? 'this http backend has no getSession: its instances are devices, without an openId'
            : 'openId ' + JSON.stringify(openId) + " is not the session's openId " + JSON.stringify(own) + ' (omit it: it comes from the session)',
        );
      }
      openId = own;
    }
    const compatVersion = options.compatVersion !== undefined ? core.checkVersion(options.compatVersion) : core.pluginVersion();
    return { core, backend, openId, compatVersion };
  });
}
