// The plugin's error classes (as in wmpf-voip 2.4): every failure is a real Error with a
// numeric errCode, an errMsg of the form '<api>:fail <reason>', and a stable upper-case code.

export class VoipError extends Error {
  constructor(errCode, code, errMsg) {
    super(errMsg);
    this.name = 'VoipError';
    this.errCode = errCode;
    this.code = code;
    this.errMsg = errMsg;
  }
}

/** Checked locally by the plugin (bad arguments, busy, not supported). */
export class VoipPluginError extends VoipError {
  constructor(errCode, code, errMsg) {
    super(errCode, code, errMsg);
    this.name = 'VoipPluginError';
  }
}

/** Reported by the backend (permissions, registry rules, storage). */
export class VoipCgiError extends VoipError {
  constructor(errCode, code, errMsg) {
    super(errCode, code, errMsg);
    this.name = 'VoipCgiError';
  }
}

/**
 * The few error rows the shim raises itself, by name. The numbers are the core's (src/errors.rs);
 * tests/js/tables.test.mjs checks this copy against the core's table.
 */
export const CODES = {
  REQUEST_FAILED: 1002,
  BAD_RESPONSE: 1003,
  INVALID_ARGUMENT: 1004,
  BUSY: 1005,
  NOT_SUPPORTED: 1011,
  INTERNAL: 3006,
  STORAGE: 3007,
  UNAUTHENTICATED: 3008,
};

/** Turns what the wasm core threw (an Error with errCode, code, origin) into a VoipError. */
export function toVoipError(api, e) {
  let f;
  try {
    if (e instanceof VoipError) return e;
    // The core throws 'errCode␟code␟origin␟message' (src/wasm.rs throw).
    const m = typeof e === 'string' && /^(\d+)\x1f(\w+)\x1f(\w+)\x1f([^]*)$/.exec(e);
    if (m) f = { errCode: +m[1], code: m[2], origin: m[3], message: m[4] };
    else f = e && typeof e === 'object' ? { errCode: e.errCode, code: e.code, errMsg: e.errMsg, name: e.name, origin: e.origin, message: e.message } : {};
  } catch (_) {
    f = {}; // a revoked Proxy was thrown: nothing can be read from it
  }
  if (typeof f.errCode === 'number' && typeof f.code === 'string' && typeof f.errMsg === 'string') {
    // A VoipError of another copy of this package (say, its CommonJS build): same meaning.
    const Cls = f.name === 'VoipPluginError' ? VoipPluginError : VoipCgiError;
    return new Cls(f.errCode, f.code, f.errMsg);
  }
  if (typeof f.errCode === 'number' && typeof f.code === 'string') {
    const Cls = f.origin === 'plugin' ? VoipPluginError : VoipCgiError;
    return new Cls(f.errCode, f.code, api + ':fail ' + f.message);
  }
  // Anything else is a fault of ours; wasm traps are caught before this (js/seam.js) and host
  // callbacks (clock, adapters) are wrapped where they are called.
  return new VoipPluginError(CODES.INTERNAL, 'INTERNAL', api + ':fail internal error: ' + reason(e));
}

/** A thrown value's message, whatever was thrown (a revoked Proxy has no readable message). */
export function reason(e) {
  try {
    return e && typeof e.message === 'string' ? e.message : String(e);
  } catch (_) {
    return 'an unreadable value was thrown';
  }
}

export function storageError(api, what, e) {
  return new VoipCgiError(CODES.STORAGE, 'STORAGE', api + ':fail ' + what + ': ' + reason(e) + '; nothing was changed');
}

/** The contact service could not be reached (timeout, refused, offline, not in the domain list). */
export function requestFailed(api, why) {
  return new VoipCgiError(CODES.REQUEST_FAILED, 'REQUEST_FAILED', api + ':fail ' + why);
}

/** The contact service answered something unparsable or unexpected. */
export function badResponse(api, why) {
  return new VoipCgiError(CODES.BAD_RESPONSE, 'BAD_RESPONSE', api + ':fail ' + why);
}

export function notSupported(api, why) {
  return new VoipPluginError(CODES.NOT_SUPPORTED, 'NOT_SUPPORTED', api + ':fail ' + why);
}

/** The same error, its errMsg naming `api` (for errors raised while settling the instance). */
export function forApi(api, e) {
  const err = toVoipError(api, e);
  const m = /^[A-Za-z]+:fail /.exec(err.errMsg);
  if (!m || err.errMsg.startsWith(api + ':fail ')) return err;
  const Cls = err instanceof VoipPluginError ? VoipPluginError : VoipCgiError;
  return new Cls(err.errCode, err.code, api + ':fail ' + err.errMsg.slice(m[0].length));
}

/**
 * Reads the named fields of an options object once, so a throwing getter or Proxy becomes an
 * INVALID_ARGUMENT instead of escaping as a raw error.
 */
export function readFields(api, obj, names, what) {
  return readOptions(api, obj, names, what, false);
}

/**
 * `readFields` for options objects of factories and settings: a key that is not one of `names`
 * (a typo such as `maxContact`) is refused, naming it and the known ones.
 */
export function readOptions(api, obj, names, what, strict = true) {
  let plain;
  try {
    plain = obj !== null && typeof obj === 'object' && !Array.isArray(obj);
  } catch (e) {
    // Array.isArray throws on a revoked Proxy.
    throw invalidArgument(api, what + ' cannot be read: ' + reason(e));
  }
  if (!plain) throw invalidArgument(api, 'expects an ' + what + ' object');
  const out = {};
  try {
    if (strict) {
      for (const key of Object.keys(obj)) {
        if (names.indexOf(key) < 0) {
          throw invalidArgument(api, what + ' has an unknown key ' + JSON.stringify(key) + '; the known ones are ' + names.join(', '));
        }
      }
    }
    for (const name of names) {
      try {
        out[name] = obj[name];
      } catch (e) {
        throw invalidArgument(api, what + '.' + name + ' could not be read: ' + reason(e));
      }
    }
  } catch (e) {
    if (e instanceof VoipError) throw e;
    throw invalidArgument(api, what + ' cannot be read: ' + reason(e));
  }
  return out;
}

export function invalidArgument(api, why) {
  return new VoipPluginError(CODES.INVALID_ARGUMENT, 'INVALID_ARGUMENT', api + ':fail ' + why);
}

export function ok(api, fields) {
  const out = { errCode: 0, errMsg: api + ':ok' };
  if (fields) for (const k in fields) out[k] = fields[k];
  return out;
}
