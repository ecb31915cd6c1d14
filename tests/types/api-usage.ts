// Type-level test of the npm package's public API, as the BUILT declarations describe it
// (dist/npm/index.d.ts, imported as 'campus-voip' through tsconfig paths). Nothing here runs:
// `tsc --noEmit` must accept every line, and every `@ts-expect-error` must really be an error
// (tsc reports an unused @ts-expect-error), so wrong usages are proven to be rejected.

import wmpfVoip, {
  PLUGIN_VERSION,
  VoipCgiError,
  VoipError,
  VoipPluginError,
  configure,
  createHttpBackend,
  createLocalBackend,
  createVoipPlugin,
  fileStorage,
  memoryStorage,
  mintSession,
  webStorage,
  wxStorage,
} from 'campus-voip';
import type {
  BindContactInspection,
  BindContactResult,
  BindContactType,
  ContactListEntry,
  CreateVoipPluginOptions,
  DeveloperContactList,
  EndPagePath,
  EndVoipData,
  InitByCallerRefusal,
  InitByCallerRequest,
  InitByCallerSuccess,
  DevLocalBackend,
  HttpBackend,
  HttpBackendOptions,
  LocalBackend,
  LocalBackendOptions,
  MintSessionOptions,
  NavigateRequest,
  PluginEnterOptions,
  SharePath,
  StorageAdapter,
  VoipConfig,
  VoipErrorCode,
  VoipEvent,
  VoipOk,
  VoipPlugin,
  WebStorageLike,
} from 'campus-voip';
import * as campusVoip from 'campus-voip';

// ---- helpers ---------------------------------------------------------------------------------

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(_proof?: T): void {}
function assertNever(x: never): never {
  throw new Error('unreachable: ' + String(x));
}
declare function use(...values: unknown[]): void;

// ---- module shape ----------------------------------------------------------------------------

assertType<Equal<typeof wmpfVoip, VoipPlugin>>();
assertType<Equal<typeof campusVoip.default, VoipPlugin>>();
assertType<Equal<typeof PLUGIN_VERSION, string>>();
assertType<Equal<ReturnType<typeof createVoipPlugin>, Promise<VoipPlugin>>>();
assertType<Equal<ReturnType<typeof createLocalBackend>, Promise<LocalBackend>>>();
assertType<Equal<ReturnType<typeof configure>, void>>();

// ---- storage adapters and backends -----------------------------------------------------------

const mem: StorageAdapter = memoryStorage();
const fromFiles: StorageAdapter = fileStorage('/tmp/campus-voip');
// Any Web Storage-shaped object (no lib.dom needed).
declare const localStorageLike: WebStorageLike;
const fromWeb: StorageAdapter = webStorage(localStorageLike);
// The Mini Program's own wx (miniprogram-api-typings) fits wxStorage's parameter.
const fromWx: StorageAdapter = wxStorage(wx);
const v: string | null = mem.get('k');
mem.set('k', 'v');
mem.remove('k');
const keys: string[] = mem.keys();
use(fromFiles, fromWeb, fromWx, v, keys);

// A hand-written adapter is just the interface.
const custom: StorageAdapter = {
  get: (key) => (key === 'x' ? 'y' : null),
  set: (_key, _value) => undefined,
  remove: (_key) => undefined,
  keys: () => [],
};

// @ts-expect-error values are strings: an adapter returning numbers is rejected
const badAdapter: StorageAdapter = { get: () => 1, set() {}, remove() {}, keys: () => [] };
// @ts-expect-error webStorage wants a Web Storage object, not an adapter
webStorage(mem);
// @ts-expect-error wxStorage wants the wx object (getStorageSync, setStorageSync, ...)
wxStorage({ getStorageSync: () => '' });
use(badAdapter);

async function backends(): Promise<void> {
  const options: LocalBackendOptions = {
    storage: custom,
    maxContacts: 10,
    ticketTtlMs: 72 * 3600 * 1000,
    voipTokenTtlMs: 5 * 60 * 1000,
    now: () => Date.now(),
    pluginAppId: 'wx0000000000000000',
    pathPrefix: '__plugin__/wx0000000000000000/',
    namespace: 'campus-voip/',
  };
  const plain: LocalBackend = await createLocalBackend(options);
  // @ts-expect-error the development helpers exist only on a dev: true backend
  plain.issueVoipToken({ userId: 'student-001' });
  const isDev: boolean = plain.dev;
  const backend: DevLocalBackend = await createLocalBackend({ ...options, dev: true, restore: new Uint8Array(0) });
  const devFlag: true = backend.dev;
  use(isDev, devFlag);
  const defaults: LocalBackend = await createLocalBackend();
  const onlyStorage: LocalBackend = await createLocalBackend({ storage: memoryStorage() });

  const type: 'local' = backend.type;
  const now: number = backend.now();
  const token: string = await backend.issueVoipToken({ userId: 'student-001' });
  const reset = await backend.resetStudent({ userId: 'student-001' });
  const resetOk: { errCode: 0; errMsg: 'resetStudent:ok'; userId: string; removed: boolean } = reset;
  const dev: DeveloperContactList = await backend.getVoipContactList({ user_id: 'student-001' });
  for (const c of dev.contact_list) {
    const role: 0 | 1 = c.role;
    const openId: string = c.open_id;
    use(role, openId);
  }
  const errcode: 0 | 1 = dev.errcode;
  const snapshot: Uint8Array = backend.exportSnapshot({ includeSecrets: true });
  const registryOnly: Uint8Array = backend.exportSnapshot();
  use(registryOnly);
  const restored: DevLocalBackend = await createLocalBackend({ storage: memoryStorage(), dev: true, restore: snapshot });
  const stats: { students: number; contacts: number } = backend.stats();
  backend.close();
  use(defaults, onlyStorage, type, now, token, resetOk, errcode, restored, stats);

  // @ts-expect-error maxContacts is a number
  await createLocalBackend({ maxContacts: '10' });
  // @ts-expect-error the clock returns milliseconds
  await createLocalBackend({ now: () => new Date() });
  // @ts-expect-error a snapshot is bytes, not a string
  await createLocalBackend({ restore: 'snapshot' });
  // @ts-expect-error unknown option (excess property)
  await createLocalBackend({ maxContact: 10 });
  // @ts-expect-error the developer query uses user_id (the contact service's spelling)
  await backend.getVoipContactList({ userId: 'student-001' });
  // @ts-expect-error backend.type is 'local'
  const notHttp: 'http' = backend.type;
  // @ts-expect-error exportSnapshot is synchronous
  backend.exportSnapshot().then(() => undefined);
  use(notHttp);
}

// ---- instances -------------------------------------------------------------------------------

async function instances(): Promise<void> {
  const backend = await createLocalBackend();
  const navigated: NavigateRequest[] = [];
  const parentOptions: CreateVoipPluginOptions = {
    backend,
    openId: 'parent_1',
    compatVersion: '2.3.8',
    navigate: (req) => {
      const key: 'BindContact' | 'Call' = req.key;
      const route: 'redirectTo' | 'switchTab' | 'reLaunch' = req.routeType;
      const full: string = req.path;
      const options: string = req.options;
      navigated.push(req);
      use(key, route, full, options, req.url);
    },
  };
  const parent: VoipPlugin = await createVoipPlugin(parentOptions);
  const device: VoipPlugin = await createVoipPlugin({ backend }); // no openId: the face-pay device

  // @ts-expect-error a backend is required
  await createVoipPlugin({ openId: 'parent_1' });
  // @ts-expect-error the backend must come from createLocalBackend()
  await createVoipPlugin({ backend: memoryStorage(), openId: 'parent_1' });
  // @ts-expect-error openId is a string
  await createVoipPlugin({ backend, openId: 42 });
  // @ts-expect-error navigate is a function
  await createVoipPlugin({ backend, navigate: '/pages/bound/bound' });

  const openId: string | undefined = await parent.getOpenId();
  // @ts-expect-error a device instance has no openId: getOpenId may resolve undefined
  const mustBeString: string = await device.getOpenId();
  const sameBackend: DevLocalBackend = await parent.getDevBackend();
  const consent: { errCode: 0; errMsg: 'getVoipConsent:ok'; granted: boolean } = await parent.getVoipConsent();
  use(consent);
  parent.dispose();
  use(openId, mustBeString, sameBackend, navigated);
}

// ---- results and errors ----------------------------------------------------------------------

async function contacts(p: VoipPlugin): Promise<void> {
  const auth = await p.authorizeVoip();
  assertType<Equal<typeof auth, VoipOk<'authorizeVoip'>>>();
  const zero: 0 = auth.errCode;
  const okMsg: 'authorizeVoip:ok' = auth.errMsg;
  const revoked: VoipOk<'revokeVoip'> = await p.revokeVoip();
  // @ts-expect-error errMsg names its API
  const wrongMsg: 'revokeVoip:ok' = auth.errMsg;
  use(zero, okMsg, revoked, wrongMsg);

  const admin = await p.bindVoipAdminContact({ userId: 'student-001' });
  const adminMsg: 'bindVoipAdminContact:ok' = admin.errMsg;
  const adminUser: string = admin.userId;

  const path: string = await p.getBindContactPath({ userId: 'student-001', userName: 'Xiao Ming', userAvatar: '' });
  const noAvatar: string = await p.getBindContactPath({ userId: 'student-001', userName: 'Xiao Ming' });
  // Hosts append their own parameters.
  const shared = path + '&from=demo-host';
  // @ts-expect-error getBindContactPath resolves a string, not an object with a path
  const notAnObject: string = (await p.getBindContactPath({ userId: 'student-001', userName: 'Xiao Ming' })).path;
  // @ts-expect-error userName is required
  await p.getBindContactPath({ userId: 'student-001' });
  use(adminMsg, adminUser, noAvatar, shared, notAnObject);

  const list: ContactListEntry[] = await p.getVoipBindContactList({ userId: 'student-001' });
  const all: ContactListEntry[] = await p.getVoipBindContactList();
  const everything: ContactListEntry[] = await p.getVoipBindContactList({});
  for (const entry of list) {
    const isAdmin: boolean = entry.is_ad === 1;
    const student: string = entry.user_id;
    const openIds: string[] = entry.openid_list;
    // @ts-expect-error is_ad is 0 or 1, never a boolean
    const asBool: boolean = entry.is_ad;
    use(isAdmin, student, openIds, asBool);
  }
  // @ts-expect-error getVoipBindContactList resolves an array, not { errCode, list }
  const wrapped: number = (await p.getVoipBindContactList()).errCode;
  use(all, everything, wrapped);

  const deleted = await p.deleteVoipBindContact({ userId: 'student-001', openidList: ['parent_2'] });
  const deletedIds: string[] = deleted.deleted;
  const deletedMsg: 'deleteVoipBindContact:ok' = deleted.errMsg;
  // @ts-expect-error openidList is an array of openIds
  await p.deleteVoipBindContact({ userId: 'student-001', openidList: 'parent_2' });
  // @ts-expect-error userId is required
  await p.deleteVoipBindContact({ openidList: ['parent_2'] });

  const transferred = await p.transerAdmin({ userId: 'student-001', newAdminOpenid: 'parent_2' });
  const newAdmin: string = transferred.adminOpenid;
  const transferMsg: 'transerAdmin:ok' = transferred.errMsg;
  // @ts-expect-error the API keeps the real plugin's spelling: transerAdmin
  await p.transferAdmin({ userId: 'student-001', newAdminOpenid: 'parent_2' });
  // @ts-expect-error the field is newAdminOpenid
  await p.transerAdmin({ userId: 'student-001', newAdminOpenId: 'parent_2' });
  use(deletedIds, deletedMsg, newAdmin, transferMsg);
}

function describeError(e: unknown): string {
  if (e instanceof VoipPluginError) {
    const local: VoipError = e;
    return 'plugin ' + local.errCode + ' ' + e.code;
  }
  if (e instanceof VoipCgiError) {
    return 'backend ' + e.errCode + ' ' + e.errMsg;
  }
  if (e instanceof VoipError) {
    const base: Error = e; // a real Error subclass
    const code: VoipErrorCode = e.code;
    switch (code) {
      case 'BAD_VOIP_TOKEN':
      case 'NOT_AUTHORIZED':
      case 'NOT_CONTACT_OF_CALLER':
      case 'INVALID_OPENID':
      case 'VOIP_TOKEN_MISSING':
      case 'REQUEST_FAILED':
      case 'BAD_RESPONSE':
      case 'INVALID_ARGUMENT':
      case 'BUSY':
      case 'NOT_SUPPORTED':
      case 'NOT_ADMIN':
      case 'ADMIN_EXISTS':
      case 'NOT_CONTACT':
      case 'ADMIN_SELF_DELETE':
      case 'CONTACT_LIMIT':
      case 'INTERNAL':
      case 'STORAGE':
      case 'UNAUTHENTICATED':
        return base.message + ' ' + code;
      default:
        return assertNever(code);
    }
  }
  return String(e);
}

function errorClasses(): void {
  const e1 = new VoipError(1004, 'INVALID_ARGUMENT', 'getBindContactPath:fail userName is required');
  const e2: VoipError = new VoipPluginError(1005, 'BUSY', 'initByCaller:fail busy');
  const e3: VoipError = new VoipCgiError(3001, 'NOT_ADMIN', 'getBindContactPath:fail not the administrator');
  const stack: string | undefined = e1.stack;
  // @ts-expect-error code is one of the stable names
  new VoipError(1004, 'INVALID_ARGUMENTS', 'x:fail y');
  // @ts-expect-error errCode is a number
  new VoipCgiError('3001', 'NOT_ADMIN', 'x:fail y');
  // @ts-expect-error the fields are read-only
  e1.errCode = 0;
  use(e2, e3, stack, describeError(e1));
}

// ---- the bind page's logic -------------------------------------------------------------------

async function bindPage(p: VoipPlugin, path: SharePath): Promise<void> {
  const query: SharePath = { userId: 'student-001', userName: 'Xiao Ming', userAvatar: '', ticket: 'AQEB' };
  const inspected: BindContactInspection = await p.inspectBindContactPath(path);
  const status = inspected.status;
  if (status === 'ready') {
    const accepted: BindContactResult = await p.acceptBindContactPath(query);
    const t: BindContactType = accepted.type;
    use(t);
  } else {
    // Narrowed: the blocking outcomes of rows 1-6 only.
    assertType<Equal<typeof status, 'invalid' | 'expire' | 'unbind' | 'binded' | 'overload'>>();
    // @ts-expect-error 'auth' is decided after consent, never by the inspection
    const neverAuth: boolean = status === 'auth';
    use(neverAuth);
  }
  const declined = await p.declineBindContactPath(path);
  const errMsg: string = declined.errMsg;
  const userId: string = declined.userId;
  // @ts-expect-error 'ready' is an inspection status, not an outcome
  const notOutcome: boolean = declined.type === 'ready';
  // @ts-expect-error a share path is a string or the page's query object
  await p.acceptBindContactPath(42);
  // @ts-expect-error query values are strings
  await p.inspectBindContactPath({ userId: 1 });
  use(inspected.userId, inspected.userName, inspected.userAvatar, errMsg, userId, notOutcome);
}

// ---- events and navigation -------------------------------------------------------------------

function events(p: VoipPlugin): void {
  const stop: () => void = p.onVoipEvent((event) => {
    switch (event.eventName) {
      case 'bindContact': {
        const data: BindContactResult = event.data;
        // @ts-expect-error bindContact events have no room
        use(event.roomId);
        use(data.type, data.errMsg, data.userId);
        break;
      }
      case 'cancelVoip': {
        const status: 'forceFromApp' | 'other' = event.data.status;
        const room: string = event.roomId;
        const group: string = event.groupId;
        use(status, room, group);
        break;
      }
      case 'endVoip': {
        const data: EndVoipData = event.data;
        const keepTime: number = data.keepTime;
        const isCaller: boolean = data.isCaller;
        const roomType: 'voice' | 'video' = data.roomType;
        use(keepTime, isCaller, roomType, data.callerName, data.listenerName, data.businessType, event.roomId);
        break;
      }
      case 'incomingVoip': {
        const callerName: string = event.data.callerName;
        use(callerName, event.data.roomId, event.data.callerId, event.data.businessType);
        break;
      }
      case 'hangUpVoip': {
        const origin: 'forceFromApp' | 'other' | 'timeLimit' = event.data.origin;
        use(origin, event.data.keepTime, event.data.status);
        break;
      }
      case 'rejectVoip':
      case 'abortVoip':
      case 'calling':
      case 'finishVoip':
      case 'joinedRoomByCaller':
      case 'busy':
      case 'startVoip':
      case 'hangOnVoip':
      case 'timeout':
        use(event.roomId, event.groupId);
        break;
      default:
        assertNever(event);
    }
  });
  stop();

  // @ts-expect-error there is no such event
  p.onVoipEvent((event) => event.eventName === 'ringVoip');
  // @ts-expect-error the listener gets one event object
  p.onVoipEvent((name: string, data: unknown) => use(name, data));
  // @ts-expect-error there is no offVoipEvent (onVoipEvent returns the remover)
  p.offVoipEvent(() => undefined);

  const end: EndPagePath = { key: 'BindContact', url: '/pages/bound/bound', options: 'from=bind' };
  p.setVoipEndPagePath(end);
  p.setVoipEndPagePath({ key: 'Call', url: '/pages/index/index', routeType: 'reLaunch' });
  // @ts-expect-error keys are 'BindContact' and 'Call'
  p.setVoipEndPagePath({ key: 'bindContact', url: '/pages/bound/bound' });
  // @ts-expect-error routeType is redirectTo, switchTab or reLaunch
  p.setVoipEndPagePath({ key: 'Call', url: '/pages/index/index', routeType: 'navigateTo' });
  // @ts-expect-error url is required
  p.setVoipEndPagePath({ key: 'Call' });

  const enter: PluginEnterOptions = p.getPluginEnterOptions();
  const from: string | undefined = enter.query ? enter.query.from : undefined;
  const onload: Record<string, string> = p.getPluginOnloadOptions();
  use(from, enter.path, onload);
}

// ---- calls (initByCaller) --------------------------------------------------------------------

async function calls(device: VoipPlugin, backend: DevLocalBackend): Promise<void> {
  const voipToken = await backend.issueVoipToken({ userId: 'student-001' });
  const request: InitByCallerRequest = {
    roomType: 'video',
    caller: { id: 'student-001', name: 'Xiao Ming', cameraStatus: 1 },
    listener: { id: 'parent_1', name: 'Mum', cameraStatus: 0 },
    businessType: 0,
    voipToken,
    miniprogramState: 'formal',
    customQuery: 'a=1',
    timeLimit: 60,
  };
  const res = await device.initByCaller(request);
  assertType<Equal<typeof res, InitByCallerSuccess | InitByCallerRefusal>>();
  if (res.isSuccess) {
    const room: string = res.roomId;
    const group: string = res.groupId;
    const charge: 'duration' | 'license' = res.chargeType;
    const ok: 'initByCaller:ok' = res.errMsg;
    const zero: 0 = res.errCode;
    device.forceHangUpVoip(room);
    use(group, charge, ok, zero);
  } else {
    const code: number = res.errCode;
    const msg: string = res.errMsg;
    const err: VoipCgiError = res.errObj;
    // @ts-expect-error a refusal has no roomId
    use(res.roomId);
    use(code, msg, err);
  }
  // @ts-expect-error roomId exists only after narrowing on isSuccess
  use(res.roomId);
  device.forceHangUpVoip();

  const minimal = await device.initByCaller({ roomType: 'voice', caller: { id: 'student-001' }, listener: { id: 'parent_1' }, voipToken });
  use(minimal.isSuccess);

  // @ts-expect-error roomType is 'voice' or 'video'
  await device.initByCaller({ roomType: 'audio', caller: { id: 's' }, listener: { id: 'p' }, voipToken });
  // @ts-expect-error listener is required
  await device.initByCaller({ roomType: 'voice', caller: { id: 's' }, voipToken });
  // @ts-expect-error businessType is 0, 1, 2 or 3
  await device.initByCaller({ roomType: 'voice', caller: { id: 's' }, listener: { id: 'p' }, businessType: 4 });
  // @ts-expect-error timeLimit is a number of seconds
  await device.initByCaller({ roomType: 'voice', caller: { id: 's' }, listener: { id: 'p' }, voipToken, timeLimit: '60' });
  // @ts-expect-error cameraStatus belongs to caller/listener and is 0 or 1
  await device.initByCaller({ roomType: 'voice', caller: { id: 's', cameraStatus: true }, listener: { id: 'p' }, voipToken });
  // @ts-expect-error forceHangUpVoip takes the roomId string
  device.forceHangUpVoip(123);
}

// ---- configure (the default instance outside a Mini Program) ---------------------------------

function configuring(): void {
  const local: VoipConfig = { openId: 'parent_1', backend: { type: 'local', maxContacts: 10, ticketTtlMs: 3600000 }, pluginAppId: 'wx0', compatVersion: '2.4.0' };
  configure(local);
  configure({});
  configure(() => ({ openId: 'parent_1' }));
  configure(async () => ({ openId: 'parent_1' }));
  configure(Promise.resolve({ openId: 'parent_1' }));
  configure({ backend: { type: 'http', url: 'https://voip.example.com', getSession: async () => 'session' } });
  configure({ backend: { type: 'http', url: 'https://voip.example.com', deviceKey: 'cvd1.x.y', timeoutMs: 5000 } });
  // @ts-expect-error the http backend needs its url
  configure({ backend: { type: 'http', getSession: () => 'session' } });
  // @ts-expect-error the only backend type is 'local'
  configure({ backend: { type: 'memory' } });
  // @ts-expect-error openId is a string
  configure({ openId: 1 });
}

async function httpBackends(): Promise<void> {
  assertType<Equal<ReturnType<typeof createHttpBackend>, Promise<HttpBackend>>>();
  const options: HttpBackendOptions = { url: 'https://voip.example.com', getSession: async () => 'v1.k.o_dad.1.2.m' };
  const parent: HttpBackend = await createHttpBackend(options);
  const dad: VoipPlugin = await createVoipPlugin({ backend: parent });
  const device: HttpBackend = await createHttpBackend({ url: 'https://voip.example.com', deviceKey: 'cvd1.a.b', timeoutMs: 15000 });
  const token: string = await device.issueVoipToken({ userId: 'student-001' });
  const t: 'http' = parent.type;
  await createHttpBackend({ url: 'https://voip.example.com', getSession: () => 'sync session' });
  // @ts-expect-error getSession resolves a string
  await createHttpBackend({ url: 'https://voip.example.com', getSession: async () => 1 });
  // @ts-expect-error unknown option (excess property)
  await createHttpBackend({ url: 'https://voip.example.com', session: 's' });
  // @ts-expect-error the developer query is the school server's interface, not the plugin's
  await parent.getVoipContactList({ user_id: 'student-001' });
  const minted: string = await mintSession({ secret: 'a session secret of at least 32 bytes', openId: 'o_dad', ttlSeconds: 3600 });
  const mintOptions: MintSessionOptions = { secret: 's', openId: 'o', now: () => Date.now() };
  await createHttpBackend({ url: 'https://voip.example.com', getSession: () => mintSession(mintOptions) });
  // @ts-expect-error openId is required
  await mintSession({ secret: 's' });
  // @ts-expect-error unknown option (excess property)
  await mintSession({ secret: 's', openId: 'o', ttl: 60 });
  use(dad, token, t, minted);
}

use(httpBackends, backends, instances, contacts, errorClasses, bindPage, events, calls, configuring);
