// Type declarations for campus-voip: the WeChat VoIP plugin's campus face-pay mode API
// (wmpf-voip names and shapes), plus the factories, backends and storage adapters.

/** `{ errCode: 0, errMsg: '<api>:ok' }` plus each API's fields. */
export interface VoipOk<Api extends string> {
  errCode: 0;
  errMsg: `${Api}:ok`;
}

/** Stable names of every errCode. */
export type VoipErrorCode =
  | 'BAD_VOIP_TOKEN' // 4
  | 'NOT_AUTHORIZED' // 8
  | 'NOT_CONTACT_OF_CALLER' // 9
  | 'INVALID_OPENID' // 20
  | 'VOIP_TOKEN_MISSING' // 1001
  | 'REQUEST_FAILED' // 1002
  | 'BAD_RESPONSE' // 1003
  | 'INVALID_ARGUMENT' // 1004
  | 'BUSY' // 1005
  | 'NOT_SUPPORTED' // 1011
  | 'NOT_ADMIN' // 3001
  | 'ADMIN_EXISTS' // 3002
  | 'NOT_CONTACT' // 3003
  | 'ADMIN_SELF_DELETE' // 3004
  | 'CONTACT_LIMIT' // 3005
  | 'INTERNAL' // 3006
  | 'STORAGE' // 3007
  | 'UNAUTHENTICATED'; // 3008

/** Every rejection and throw of the API. */
export class VoipError extends Error {
  constructor(errCode: number, code: VoipErrorCode, errMsg: string);
  readonly errCode: number;
  /** `'<api>:fail <reason>'` */
  readonly errMsg: string;
  readonly code: VoipErrorCode;
}
/** Checked locally by the plugin: bad arguments (1004, 20), voipToken missing (1001), busy (1005), not supported (1011). */
export class VoipPluginError extends VoipError {}
/** Reported by the backend: consent (8), registry rules (30xx), storage (3007), tokens (4), contacts (9). */
export class VoipCgiError extends VoipError {}

/** The wmpf-voip API version this build implements (the default `compatVersion`). */
export const PLUGIN_VERSION: string;

// ---- contacts ------------------------------------------------------------------------------

export interface ContactListEntry {
  user_id: string;
  /** 1 when the current user is this student's administrator. */
  is_ad: 0 | 1;
  /** The administrator sees every contact (administrator first, then binding order); an ordinary contact only itself. */
  openid_list: string[];
}

export type BindContactType = 'success' | 'unbind' | 'binded' | 'expire' | 'overload' | 'invalid' | 'auth' | 'cancel';

/** `bindContact` event data, and what the bind page's accept/decline resolve. */
export interface BindContactResult {
  type: BindContactType;
  /** `'bindContact:ok'` or `'bindContact:fail <what happened>'` */
  errMsg: string;
  userId: string;
}

export interface BindContactInspection {
  userId: string;
  userName: string;
  userAvatar: string;
  /** The first of outcomes 1–6 that applies, or 'ready' (consent is asked afterwards). */
  status: 'ready' | 'invalid' | 'expire' | 'unbind' | 'binded' | 'overload';
  /** When the link expires (ms since the epoch); absent when the link does not verify. */
  expiresAt?: number;
}

/** A share path as `getBindContactPath` made it, or the query object the bind page's onLoad received. */
export type SharePath = string | Record<string, string | undefined>;

// ---- calls ---------------------------------------------------------------------------------

export interface InitByCallerRequest {
  roomType: 'voice' | 'video';
  caller: { id: string; name?: string; cameraStatus?: 0 | 1 };
  listener: { id: string; name?: string; cameraStatus?: 0 | 1 };
  /** 0: face-pay mode, duration billing (default); 3: face recognition, license billing (plugin ≥ 2.3.8). */
  businessType?: 0 | 1 | 2 | 3;
  /** The face-pay voip_token (required for businessType 0 and 3). */
  voipToken?: string;
  miniprogramState?: 'formal' | 'trial' | 'developer';
  customQuery?: string;
  /** Maximum call length in seconds, > 0. */
  timeLimit?: number;
}

export interface InitByCallerSuccess extends VoipOk<'initByCaller'> {
  isSuccess: true;
  roomId: string;
  groupId: string;
  chargeType: 'duration' | 'license';
}

/** Backend refusals resolve (the real plugin's double style): errCode 4, 8 or 9. */
export interface InitByCallerRefusal {
  isSuccess: false;
  errCode: 4 | 8 | 9;
  errMsg: string;
  errObj: VoipCgiError;
}

export interface EndVoipData {
  /** Milliseconds. */
  keepTime: number;
  callerName: string;
  listenerName: string;
  roomType: 'voice' | 'video';
  isCaller: boolean;
  businessType: number;
}

/** A call event (SPEC §3.7): every one carries the call's roomId (and groupId, the same). */
type CallEvent<N extends string, D> = { eventName: N; data: D; roomId: string; groupId: string };

export type VoipEvent =
  | { eventName: 'bindContact'; data: BindContactResult }
  | CallEvent<'joinedRoomByCaller', {}>
  /** **[ours]** The listener's phone rings. */
  | CallEvent<'incomingVoip', { roomId: string; callerId: string; callerName: string; roomType: 'voice' | 'video'; businessType: number }>
  | CallEvent<'busy' | 'startVoip' | 'hangOnVoip' | 'timeout', {}>
  | CallEvent<'rejectVoip', { status: 'manual' | 'other' }>
  | CallEvent<'cancelVoip', { status: 'forceFromApp' | 'other' }>
  | CallEvent<'hangUpVoip', { keepTime: number; status: 'endByCaller' | 'endByListener'; origin: 'forceFromApp' | 'other' | 'timeLimit' }>
  | CallEvent<'abortVoip', { keepTime: number; status: string; error: { errMsg: string } }>
  | CallEvent<'calling', { keepTime: number }>
  | CallEvent<'endVoip', EndVoipData>
  /** The billed time once the backend recorded the call. */
  | CallEvent<'finishVoip', { keepTime: number }>;

export interface EndPagePath {
  key: 'BindContact' | 'Call';
  url: string;
  /** Query string; the page opened is `url + '?' + options`. */
  options?: string;
  routeType?: 'redirectTo' | 'switchTab' | 'reLaunch';
}

export interface NavigateRequest {
  key: 'BindContact' | 'Call';
  url: string;
  options: string;
  routeType: 'redirectTo' | 'switchTab' | 'reLaunch';
  /** `url + '?' + options` (or `url`). */
  path: string;
}

export interface PluginEnterOptions {
  path?: string;
  query?: Record<string, string>;
}

/** The plugin API object (`requirePlugin('<alias>').default`). */
export interface VoipPlugin {
  /** Records that the current user granted `scope.voip` (call after your own consent prompt succeeds). */
  authorizeVoip(): Promise<VoipOk<'authorizeVoip'>>;
  revokeVoip(): Promise<VoipOk<'revokeVoip'>>;
  /** Whether the current user granted VoIP consent (read from the backend). */
  getVoipConsent(): Promise<VoipOk<'getVoipConsent'> & { granted: boolean }>;

  /** The current user becomes the student's administrator (needs consent). */
  bindVoipAdminContact(req: { userId: string }): Promise<VoipOk<'bindVoipAdminContact'> & { userId: string }>;
  /** Administrator only. Resolves the share path for onShareAppMessage. */
  getBindContactPath(req: { userId: string; userName: string; userAvatar?: string }): Promise<string>;
  getVoipBindContactList(req?: { userId?: string }): Promise<ContactListEntry[]>;
  /** Administrator only; all or nothing. */
  deleteVoipBindContact(req: {
    userId: string;
    openidList: string[];
  }): Promise<VoipOk<'deleteVoipBindContact'> & { userId: string; deleted: string[] }>;
  /** Administrator only; spelled as in the real plugin. */
  transerAdmin(req: {
    userId: string;
    newAdminOpenid: string;
  }): Promise<VoipOk<'transerAdmin'> & { userId: string; adminOpenid: string }>;

  /** What the bind page shows before asking: the student and the first blocking outcome, or 'ready'. */
  inspectBindContactPath(path: SharePath): Promise<BindContactInspection>;
  /** Binds the current user as an ordinary contact; resolves and emits the outcome. */
  acceptBindContactPath(path: SharePath): Promise<BindContactResult>;
  /** Outcome 'cancel', emitted the same way. */
  declineBindContactPath(path: SharePath): Promise<BindContactResult>;

  /** Returns the function that removes the listener. */
  onVoipEvent(listener: (event: VoipEvent) => void): () => void;
  setVoipEndPagePath(req: EndPagePath): void;
  getPluginEnterOptions(): PluginEnterOptions;
  getPluginOnloadOptions(): Record<string, string>;

  /** Throws (rejects) for bad parameters; resolves isSuccess:false for backend refusals. */
  initByCaller(req: InitByCallerRequest): Promise<InitByCallerSuccess | InitByCallerRefusal>;
  /**
   * Either side ends its call (no argument: the current one; or the call `roomId`): a ringing
   * call is cancelled (device) or rejected (listener), a connected one hung up (`hangUpVoip`),
   * then `endVoip` and `finishVoip`. Nothing happens when no call matches.
   */
  forceHangUpVoip(roomId?: string): void;
  /** **[ours]** The listener answers a ringing call (after `incomingVoip`): 9 for anyone else, 1004 for an unknown or ended roomId, 1005 while in another connected call. */
  answerVoip(req: { roomId: string }): Promise<VoipOk<'answerVoip'>>;
  /** **[ours]** The listener rejects a ringing call. */
  rejectVoip(req: { roomId: string }): Promise<VoipOk<'rejectVoip'>>;
  /** The plugin's call page: `pages/call/call`, or `plugin-private://<appid>/pages/call/call` in a Mini Program. */
  readonly CALL_PAGE_PATH: string;

  /**
   * The backend this instance runs on, only if it was created with `dev: true` (rejects with
   * NOT_SUPPORTED otherwise): no ordinary instance hands out its backend's helpers or secrets.
   */
  getDevBackend(): Promise<DevLocalBackend>;
  /** The instance's openId, or undefined for a device instance. */
  getOpenId(): Promise<string | undefined>;
  /** Stops the instance's call timers and drops its listeners. */
  dispose(): void;
}

// ---- backends and storage ------------------------------------------------------------------

/**
 * A synchronous key-value store. The contract: `get`, `set`, `remove` and `keys` return their
 * result (an adapter that returns a promise is refused the first time, with STORAGE, and nothing
 * is applied); each `set`/`remove` is atomic for its key; an adapter never calls back into the
 * backend.
 */
export interface StorageAdapter {
  get(key: string): string | null;
  set(key: string, value: string): void;
  remove(key: string): void;
  keys(): string[];
}

/** The part of the Web Storage interface (`localStorage`) the adapter uses. */
export interface WebStorageLike {
  readonly length: number;
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
  key(index: number): string | null;
}

export function memoryStorage(): StorageAdapter;
export function webStorage(storage: WebStorageLike): StorageAdapter;
export function wxStorage(wx: {
  getStorageSync(key: string): unknown;
  setStorageSync(key: string, value: string): void;
  removeStorageSync(key: string): void;
  getStorageInfoSync(): { keys: string[] };
}): StorageAdapter;
/**
 * One file per key in `dir`, written atomically (temporary file, fsync, rename). Node only:
 * elsewhere it throws a VoipPluginError NOT_SUPPORTED (1011).
 */
export function fileStorage(dir: string): StorageAdapter;

export interface LocalBackendOptions {
  /** Default: localStorage in browsers, the plugin's storage in a Mini Program, memory in Node. */
  storage?: StorageAdapter;
  /** Contacts per student including the administrator, 1–100 (default 10). */
  maxContacts?: number;
  /** Share link lifetime, 60 000 ms – 30 days (default 72 hours). */
  ticketTtlMs?: number;
  /** Face-pay token lifetime, 10 s – 1 hour (default 5 minutes). */
  voipTokenTtlMs?: number;
  /** How long a call rings before `timeout`, 5 000 – 120 000 ms (default 30 000). */
  ringTimeoutMs?: number;
  /** Clock in milliseconds (default Date.now). */
  now?: () => number;
  /** Share paths start with `__plugin__/<pluginAppId>/`. */
  pluginAppId?: string;
  /** Overrides the share path prefix entirely. */
  pathPrefix?: string;
  /** Prefix of this backend's keys in the storage (default 'campus-voip/'). */
  namespace?: string;
  /**
   * A development backend: adds issueVoipToken, resetStudent, exportSnapshot and restore, and
   * lets instances hand it out (getDevBackend). Default false.
   */
  dev?: boolean;
  /** With `dev: true`: restores an `exportSnapshot({ includeSecrets: true })` into an empty storage first. */
  restore?: Uint8Array;
}

export interface DeveloperContactList {
  errcode: 0 | 1;
  errmsg: string;
  contact_list: { open_id: string; role: 0 | 1 }[];
}

/** One ended call (`getVoipCallList`). */
export interface CallRecord {
  room_id: string;
  user_id: string;
  open_id: string;
  business_type: 0 | 3;
  charge_type: 'duration' | 'license';
  rang_at_ms: number;
  connected_at_ms: number | null;
  ended_at_ms: number;
  keep_time_ms: number;
  /** finishVoip's keepTime: every started minute for businessType 0, exact for 3. */
  billed_time_ms: number;
  ending:
    | 'busy' | 'rejected' | 'cancelled' | 'timeout' | 'endByCaller' | 'endByListener'
    | 'timeLimit' | 'abortByCaller' | 'abortByListener';
}

export interface DeveloperCallList {
  errcode: 0;
  errmsg: 'ok';
  call_list: CallRecord[];
}

export interface LocalBackend {
  readonly type: 'local';
  /** Whether it was created with `dev: true`. */
  readonly dev: boolean;
  now(): number;
  /** The developer query (the contact service's getvoipcontactlist shape). */
  getVoipContactList(req: { user_id: string }): Promise<DeveloperContactList>;
  /** **[ours]** Ended calls of a student that rang from begin_time to end_time (Unix seconds, inclusive). */
  getVoipCallList(req: { user_id: string; begin_time?: number; end_time?: number }): Promise<DeveloperCallList>;
  /** **[ours]** Fires every passed deadline (ring timeout, time limit) now, on the backend's clock. */
  tick(): Promise<void>;
  stats(): { students: number; contacts: number };
  /** Frees the backend's wasm memory. */
  close(): void;
}

/** A backend created with `dev: true`: the development helpers of SPEC §6.1. */
export interface DevLocalBackend extends LocalBackend {
  readonly dev: true;
  /** The face-scan stand-in: a signed, single-use voipToken for the student. */
  issueVoipToken(req: { userId: string }): Promise<string>;
  /** Removes all the student's contacts. */
  resetStudent(req: { userId: string }): Promise<VoipOk<'resetStudent'> & { userId: string; removed: boolean }>;
  /**
   * Every contact and consent as one versioned, checksummed blob; the backend's keys only with
   * `includeSecrets: true` (needed to restore it with links and tokens still valid).
   */
  exportSnapshot(options?: { includeSecrets?: boolean }): Uint8Array;
}

export function createLocalBackend(options: LocalBackendOptions & { dev: true }): Promise<DevLocalBackend>;
export function createLocalBackend(options?: LocalBackendOptions): Promise<LocalBackend>;

export interface HttpBackendOptions {
  /** The contact service's address, e.g. 'https://voip.school.example' (requests go to `<url>/v1/<api>`). */
  url: string;
  /**
   * A parent's session `v1.<kid>.<openId>.<iat>.<exp>.<mac>` (from your login). Called when no
   * session is cached and once more after the service answers 3008 UNAUTHENTICATED (the request
   * is then retried once). Instances take their openId from it.
   */
  getSession?: () => string | Promise<string>;
  /** The face-pay device's key (`cvd1.…`); with no getSession, the backend makes device instances. */
  deviceKey?: string;
  /** A request without an answer after this many ms fails with 1002 REQUEST_FAILED (default 15 000). */
  timeoutMs?: number;
  /**
   * **[ours]** This device's clock (ms since the epoch; default `Date.now`), used for a call's
   * start and `keepTime`: a test or the demo can pass the same clock it moves on the service.
   */
  now?: () => number;
}

/**
 * The contact service (SPEC §6.2). Transport failures (timeout, refused, offline, not in the
 * domain list) reject with 1002 REQUEST_FAILED, an unparsable or unexpected reply with 1003
 * BAD_RESPONSE. The service's mutations are idempotent, so a call that timed out may be retried.
 */
export interface HttpBackend {
  readonly type: 'http';
  readonly dev: false;
  now(): number;
  /** The face-scan stand-in, for a backend with a deviceKey: a signed, single-use voipToken. */
  issueVoipToken(req: { userId: string }): Promise<string>;
  /** Refuses later calls. */
  close(): void;
}

export function createHttpBackend(options: HttpBackendOptions): Promise<HttpBackend>;

export interface MintSessionOptions {
  /** The service's `--session-secret` text (its UTF-8 bytes are the key): at least 32 bytes. */
  secret: string;
  /** The parent's openId (`^[A-Za-z0-9_-]{1,64}$`, checked by the core: 20 INVALID_OPENID). */
  openId: string;
  /** Lifetime in whole seconds, 1 to 366 days (`session mint --ttl`'s range); default 7 days. */
  ttlSeconds?: number;
  /** Clock in ms (default `Date.now`); `iat` is its whole second. */
  now?: () => number;
}

/**
 * **Node only** (`campus-voip` and `campus-voip/slim` under Node; in browsers and the Mini
 * Program plugin it rejects with 1011 NOT_SUPPORTED: the session secret never ships in a
 * client): a parent session `v1.<kid>.<openId>.<iat>.<exp>.<mac>` for the
 * contact service, exactly what `campus-voip-server session mint` prints for the same secret,
 * for the school's server to hand to its Mini Program (which passes it to `getSession`). Bad
 * options reject with a VoipPluginError 1004 (20 for a malformed openId). With
 * `campus-voip/slim`, call `initWasm()` first (the core checks the openId).
 */
export function mintSession(options: MintSessionOptions): Promise<string>;

export interface CreateVoipPluginOptions {
  backend: LocalBackend | HttpBackend;
  /** The current WeChat user's openId; omit for a face-pay device instance. */
  openId?: string;
  /** The plugin version to emulate (default PLUGIN_VERSION). */
  compatVersion?: string;
  /** Called to open an end page outside a Mini Program. */
  navigate?: (req: NavigateRequest) => void;
}

export function createVoipPlugin(options: CreateVoipPluginOptions): Promise<VoipPlugin>;

/**
 * The default instance's configuration: `requireMiniProgram().voipConfig` in a Mini Program,
 * `configure(voipConfig)` elsewhere.
 */
export interface VoipConfig {
  /** The current user's openId; omit on the face-pay device. */
  openId?: string;
  /** Default: `{ type: 'local' }` on the host's storage. */
  backend?:
    | { type: 'local'; maxContacts?: number; ticketTtlMs?: number; dev?: boolean }
    | ({ type: 'http' } & HttpBackendOptions);
  pluginAppId?: string;
  compatVersion?: string;
}

/** A voipConfig, or a function returning one (or a promise of one), read on the first call. */
export type VoipConfigSource = VoipConfig | Promise<VoipConfig> | (() => VoipConfig | Promise<VoipConfig>);

/** Configures the default instance (outside a Mini Program), before its first call. */
export function configure(config: VoipConfigSource): void;

declare const wmpfVoip: VoipPlugin;
export default wmpfVoip;
