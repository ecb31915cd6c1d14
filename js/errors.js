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

/** Turns what the wasm core threw (an Error with errCode, code, origin) into a VoipError. */
export function toVoipError(api, e) {
  if (e instanceof VoipError) return e;
  if (e && typeof e.errCode === 'number' && typeof e.code === 'string' && typeof e.errMsg === 'string') {
    // A VoipError of another copy of this package (say, its CommonJS build): same meaning.
    const Cls = e.name === 'VoipPluginError' ? VoipPluginError : VoipCgiError;
    return new Cls(e.errCode, e.code, e.errMsg);
  }
  if (e && typeof e.errCode === 'number' && typeof e.code === 'string') {
    const Cls = e.origin === 'plugin' ? VoipPluginError : VoipCgiError;
    return new Cls(e.errCode, e.code, api + ':fail ' + e.message);
  }
  // Anything else is a fault of ours or of the host (a wasm trap, a broken storage adapter).
  const reason = e && e.message ? e.message : String(e);
  return new VoipPluginError(1011, 'NOT_SUPPORTED', api + ':fail internal error: ' + reason);
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
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    throw invalidArgument(api, 'expects an ' + what + ' object');
  }
  const out = {};
  for (const name of names) {
    try {
      out[name] = obj[name];
    } catch (e) {
      throw invalidArgument(api, what + '.' + name + ' could not be read: ' + (e && e.message ? e.message : String(e)));
    }
  }
  return out;
}

export function invalidArgument(api, reason) {
  return new VoipPluginError(1004, 'INVALID_ARGUMENT', api + ':fail ' + reason);
}

export function ok(api, fields) {
  const out = { errCode: 0, errMsg: api + ':ok' };
  if (fields) for (const k in fields) out[k] = fields[k];
  return out;
}
