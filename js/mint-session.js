// mintSession (Node entries only): a parent session for the contact service, minted by the
// school's own Node server with the service's --session-secret (SPEC §7), exactly as
// `campus-voip-server session mint` does.
//
// The openId is checked by the core (checkOpenId: 20, or 1004 for a non-string). The session
// format and its limits belong to the service (server/src/session.rs), not to the core, so they
// are restated here and kept equal by tests/js/mint-session.test.mjs, which has a real service
// accept what this mints:
//   v1.<kid>.<openId>.<iat>.<exp>.<mac>
//   kid = base64url(SHA-256("campus-voip session kid\0" ‖ secret)[0..6])     (8 characters)
//   mac = base64url(HMAC-SHA256(key = secret, "v1.<kid>.<openId>.<iat>.<exp>")) (43 characters)
//   secret: the UTF-8 bytes of the text, at least 32 (session::MIN_SECRET_BYTES)
//   iat, exp: Unix seconds; ttl 1 s – 366 days (session::MAX_TTL_SECS), default 7 days
import { callCore } from './seam.js';
import { invalidArgument, readOptions } from './errors.js';

const API = 'mintSession';
const MIN_SECRET_BYTES = 32;
const DEFAULT_TTL_SECONDS = 7 * 86400;
const MAX_TTL_SECONDS = 366 * 86400;
const KID_LABEL = 'campus-voip session kid\0';

const b64url = (buf) => Buffer.from(buf).toString('base64url');

/** The `mintSession` of a host (it loads the core for the openId check). */
export function makeMintSession(host, loadCore) {
  return async function mintSession(options) {
    const o = readOptions(API, options, ['secret', 'openId', 'ttlSeconds', 'now'], 'options');
    if (typeof o.secret !== 'string') {
      throw invalidArgument(API, 'secret must be the session secret string the service was given (--session-secret)');
    }
    const secret = Buffer.from(o.secret, 'utf8');
    if (secret.length < MIN_SECRET_BYTES) {
      throw invalidArgument(API, 'secret must be at least ' + MIN_SECRET_BYTES + ' bytes, got ' + secret.length);
    }
    const ttl = o.ttlSeconds === undefined ? DEFAULT_TTL_SECONDS : o.ttlSeconds;
    if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL_SECONDS) {
      throw invalidArgument(API, 'ttlSeconds must be a whole number of seconds from 1 to ' + MAX_TTL_SECONDS + ' (366 days), got ' + String(ttl));
    }
    if (o.now !== undefined && typeof o.now !== 'function') {
      throw invalidArgument(API, 'now must be a function returning the time in ms (default Date.now)');
    }
    const nowMs = o.now ? o.now() : Date.now();
    if (typeof nowMs !== 'number' || !Number.isFinite(nowMs) || nowMs < 0) {
      throw invalidArgument(API, 'now() must return a time in ms, got ' + String(nowMs));
    }
    // node:crypto is loaded when first needed: importing it costs ~2.5 ms of every cold start.
    const [core, { createHash, createHmac }] = await Promise.all([loadCore(host), import('node:crypto')]);
    const openId = callCore(core, API, () => core.checkOpenId(o.openId));
    const iat = Math.floor(nowMs / 1000);
    const exp = iat + ttl;
    const kid = b64url(createHash('sha256').update(KID_LABEL, 'utf8').update(secret).digest().subarray(0, 6));
    const body = 'v1.' + kid + '.' + openId + '.' + iat + '.' + exp;
    return body + '.' + b64url(createHmac('sha256', secret).update(body, 'utf8').digest());
  };
}
