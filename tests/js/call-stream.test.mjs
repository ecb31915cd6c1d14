// The call event stream of the contact service (SPEC §3.7, §6.2): resume after a forced
// disconnect without loss or duplicate, and abortVoip once a side's stream has been gone 20 s.
// Runs with CAMPUS_VOIP_BACKEND=http (make test-js-http); the local backend has no stream.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BACKEND, bindFamily, callRequest, makeWorld } from './helpers.mjs';

const httpOnly = BACKEND === 'http' ? {} : { skip: 'the contact service only (make test-js-http)' };
const wait = (ms) => new Promise((r) => setTimeout(r, ms));

/** Records `name data` of every call event an instance hears. */
function recorder(instance) {
  const seen = [];
  instance.onVoipEvent((e) => {
    // calling ticks are local (once a second): not what the stream carries.
    if (e.roomId !== undefined && e.eventName !== 'calling') {
      assert.equal(e.groupId, e.roomId);
      seen.push(e.eventName + ' ' + JSON.stringify(e.data));
    }
  });
  return seen;
}

/** Waits until `seen` has `n` entries (events from another connection arrive a little later). */
async function until(seen, n, what) {
  for (let i = 0; i < 200 && seen.length < n; i++) await wait(20);
  assert.ok(seen.length >= n, `${what}: ${seen.length} of ${n} events: ${seen.join(' | ')}`);
}

/** A connected call from the device to dad; returns the world, the room and both recorders. */
async function connectedCall() {
  const w = await makeWorld({});
  await bindFamily(w, 's1', 'dad');
  const dev = recorder(w.device);
  const dad = recorder(w.dad);
  await wait(100); // dad's stream is open
  const tok = await w.backend.issueVoipToken({ userId: 's1' });
  const r = await w.device.initByCaller(callRequest('s1', 'dad', tok, { caller: { id: 's1', name: 'Xiao' } }));
  assert.equal(r.isSuccess, true);
  await until(dad, 1, 'incomingVoip');
  await w.clock.advance(1000);
  await w.dad.answerVoip({ roomId: r.roomId });
  await until(dev, 2, 'startVoip on the device');
  return { w, roomId: r.roomId, dev, dad };
}

describe('the call event stream over the service', httpOnly, () => {
  test('a forced disconnect mid-call, then resume: the same events, none twice', async () => {
    const { w, roomId, dev, dad } = await connectedCall();
    const dadBackend = (await w.dad.getOpenId(), w.dad._settings.backend);
    // Cut dad's stream (as a network drop would); it reconnects by itself with Last-Event-ID.
    dadBackend._stream.abort();
    await w.clock.advance(5000);
    w.device.forceHangUpVoip(roomId);
    await until(dev, 5, 'the device hears its hang-up');
    await until(dad, 6, 'dad hears the hang-up after resuming');
    await wait(200);
    assert.deepEqual(dad, [
      `incomingVoip {"roomId":"${roomId}","callerId":"s1","callerName":"Xiao","roomType":"voice","businessType":0}`,
      'hangOnVoip {}',
      'startVoip {}',
      'hangUpVoip {"keepTime":5000,"status":"endByCaller","origin":"other"}',
      'endVoip {"keepTime":5000,"callerName":"Xiao","listenerName":"dad","isCaller":false,"roomType":"voice","businessType":0}',
      'finishVoip {"keepTime":60000}',
    ]);
    assert.deepEqual(dev.slice(-3), [
      'hangUpVoip {"keepTime":5000,"status":"endByCaller","origin":"forceFromApp"}',
      'endVoip {"keepTime":5000,"callerName":"Xiao","listenerName":"dad","isCaller":true,"roomType":"voice","businessType":0}',
      'finishVoip {"keepTime":60000}',
    ]);
    w.backend.service.stop?.();
  });

  test("a side's stream gone for 20 s: abortVoip on both sides", async () => {
    const { w, dev } = await connectedCall();
    const dadBackend = w.dad._settings.backend;
    // Dad's phone goes away: its stream ends and does not come back.
    dadBackend.close();
    // The service notices when its next keep-alive comment (every 5 s) cannot be written.
    await wait(5_600);
    await w.clock.advance(19_000);
    await w.backend.tick();
    await wait(100);
    assert.equal(dev.length, 2, 'nothing before 20 s: ' + dev.join(' | '));
    await w.clock.advance(1_000);
    await w.backend.tick();
    await until(dev, 5, 'abortVoip on the device');
    assert.deepEqual(dev.slice(2), [
      'abortVoip {"keepTime":20000,"status":"unknown","error":{"errMsg":"room status is abort"}}',
      'endVoip {"keepTime":20000,"callerName":"Xiao","listenerName":"dad","isCaller":true,"roomType":"voice","businessType":0}',
      'finishVoip {"keepTime":60000}',
    ]);
    const list = await w.backend.getVoipCallList({ user_id: 's1' });
    assert.equal(list.call_list.at(-1).ending, 'abortByListener');
  });
});
