// The demo's settings, what it saves in localStorage, and its one state object S (written by
// the views, read by all).
import { PARENTS, ROSTER } from './people.js';
import { showBanner } from './dom.js';

/** Every localStorage key of this demo starts with this; Reset removes exactly these. */
export const PREFIX = 'campus-voip-demo/';
export const KEYS = {
  parents: PREFIX + 'parent-openids',
  offset: PREFIX + 'clock-offset-ms',
  max: PREFIX + 'max-contacts',
  log: PREFIX + 'event-log',
};
/** Older versions of this page kept their own copy of the phones' consents here. */
export const LEGACY_CONSENT_KEY = PREFIX + 'consent';
export const REGISTRY_NAMESPACE = PREFIX + 'registry/';
// The lifetimes this demo configures its backend with (createLocalBackend options). The page
// only shows them; whether a link or a token has expired is always the core's answer.
// On the contact service, the service's own (GET /demo/config) replace them.
export const TTL = { ticket: 72 * 3600 * 1000, token: 5 * 60 * 1000 };
export const DEFAULT_MAX_CONTACTS = 3;
export const PLUGIN_APP_ID = 'wx0123456789abcdef'; // a made-up plugin AppID: share paths start __plugin__/<it>/
export const LOG_LIMIT = 300;
export const BIND_END_PAGE = { key: 'BindContact', url: '/pages/family/family', options: 'from=bindContact', routeType: 'redirectTo' };
export const CALL_END_PAGE = { key: 'Call', url: '/pages/call-ended/call-ended', options: 'from=facepay', routeType: 'reLaunch' };
export const DEMO = { id: 'demo', name: 'Demo', color: '#64748b' };
/** Which screen this page is: the overview (index.html), one phone, or the device. */
export const VIEW = document.body.dataset.view || 'overview';
export const QUERY = new URLSearchParams(location.search);

export const saved = {
  get(key, fallback) {
    try {
      const v = localStorage.getItem(key);
      return v === null ? fallback : JSON.parse(v);
    } catch (_) {
      return fallback;
    }
  },
  set(key, value) {
    try {
      localStorage.setItem(key, JSON.stringify(value));
    } catch (_) {
      showBanner('This browser refused to save the demo’s settings (storage full or blocked). The demo keeps working until you reload.');
    }
  },
};

export const S = {
  backend: null,
  device: null,
  phones: PARENTS.map((p) => ({
    p,
    openId: '',
    inst: null,
    studentId: ROSTER[0].userId,
    consent: null, // getVoipConsent().granted at the last refresh (null: not read yet)
    share: null, // { path, userId, inspect }: inspect = inspectBindContactPath(path) on this phone
    bind: null, // { path, inspect, result, nav, via }
    notice: null, // { tone, title, what, next, raw }
    list: [], // getVoipBindContactList()
    pendingNav: null,
    here: false, // this page shows (and connects) this phone
    call: null, // { roomId, callerId, callerName, roomType, businessType, phase, keepTime, ending, billed }
    media: null, // the running startMedia() handle
    ui: {},
  })),
  contacts: new Map(), // userId -> [{ open_id, role }] (developer query)
  offset: 0,
  max: DEFAULT_MAX_CONTACTS,
  mode: 'local', // 'service': the contact service behind serve-demo.mjs; 'local': in this page
  cfg: null, // GET /demo/config (service mode)
  deviceHere: false,
  device2: null,
  device2Events: [],
  device2Result: null,
  deviceBackend: null,
  scan: null, // { userId, token, at, used, refused }
  // { roomId, studentId, parentId, phase: 'ringing' | 'connected', keepTime, chargeType, businessType, roomType }
  call: null,
  media: null, // the device's running startMedia() handle
  callLog: [], // getVoipCallList rows of the student last scanned (newest first)
  logStudent: null,
  deviceResult: null,
  deviceNav: null,
  lastEnd: null,
  selParent: PARENTS[0].id,
  businessType: 0,
  roomType: 'voice',
  log: [],
  logFilter: 'all',
  ui: {},
};

export const now = () => Date.now() + S.offset;
