// Stand-ins for the call APIs the call component uses, installed on the plugin's REAL default
// instance (the object the component gets from require('../../index.js').default), so the
// component, the instance's real onVoipEvent and its real _emit are what is tested.
//
// The real answerVoip / rejectVoip / forceHangUpVoip are tested on the real API in call.suite.js
// (a device instance's call to the default instance). These fakes are for what the real API
// cannot be made to do on cue: a promise that stays pending, a hang-up that throws, any ending
// event or payload the test scripts.
'use strict';

const FAKED = ['answerVoip', 'rejectVoip', 'forceHangUpVoip'];

/**
 * Replaces answerVoip, rejectVoip and forceHangUpVoip on `api` (the default instance).
 * Returns:
 *   calls            [{ api, arg }] in call order (arg: answer/reject's request, hang-up's roomId)
 *   pending(api)     how many promises of `api` are still unsettled
 *   resolve(api, v)  settles the oldest pending promise of `api` with `v`
 *   reject(api, err) rejects it with `err` (a VoipPluginError, as the real API does)
 *   onHangUp         (roomId) => void, what forceHangUpVoip does (default: nothing); may throw
 *   emit(eventName, data, roomId)   the instance's own _emit (what the backend's events go through)
 *   restore()        puts the instance's own methods back
 */
function installCallFakes(api) {
  const saved = FAKED.map((name) => [name, Object.getOwnPropertyDescriptor(api, name)]);
  const calls = [];
  const waiting = { answerVoip: [], rejectVoip: [] };
  const fakes = {
    calls,
    onHangUp: () => {},
    pending: (name) => waiting[name].length,
    resolve(name, value) {
      const next = waiting[name].shift();
      if (!next) throw new Error(`no pending ${name} to resolve`);
      next.resolve(value);
    },
    reject(name, err) {
      const next = waiting[name].shift();
      if (!next) throw new Error(`no pending ${name} to reject`);
      next.reject(err);
    },
    emit: (eventName, data, roomId) => api._emit(eventName, data, roomId),
    restore() {
      for (const [name, desc] of saved) {
        if (desc) Object.defineProperty(api, name, desc);
        else delete api[name];
      }
    },
  };
  for (const name of ['answerVoip', 'rejectVoip']) {
    api[name] = (req) => {
      calls.push({ api: name, arg: req });
      return new Promise((resolve, reject) => waiting[name].push({ resolve, reject }));
    };
  }
  api.forceHangUpVoip = (roomId) => {
    calls.push({ api: 'forceHangUpVoip', arg: roomId });
    fakes.onHangUp(roomId);
  };
  return fakes;
}

module.exports = { installCallFakes };
