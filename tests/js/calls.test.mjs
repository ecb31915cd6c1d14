// SPEC §3.7: calls from ring to end. Every row of the table, with both sides' events checked in
// order and with their payloads: the device instance that called, the listener's instance AND a
// second instance of the listener's openId (another phone of the same parent), while another
// contact of the student and an unrelated parent hear nothing. Then billing (finishVoip), the
// ring timeout and time limit (an injected clock moved, then backend.tick()), busy, who may
// answer, 1005, the once-a-second `calling` events, the Call end page, getVoipCallList and its
// records after a reopen, CALL_PAGE_PATH and getPluginOnloadOptions.
//
// Built on makeWorld: with CAMPUS_VOIP_BACKEND=http the same tests run against the contact
// service (events then come over its stream: expectEvents waits for them); the tests about the
// local backend itself are marked localOnly.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import {
  BACKEND,
  MINUTE,
  VoipCgiError,
  VoipPluginError,
  bindFamily,
  callEvent as ev,
  callRequest,
  cv,
  eventLog,
  expectEvents,
  localOnly,
  makeClock,
  makeWorld,
  rejectsVoip,
  settle,
} from './helpers.mjs';

const S = 's1';
const RING = 30_000; // the default ring timeout

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Over the service, events come on a stream: waits (up to 5 s) for `done()`; locally it must hold at once. */
async function waitFor(done) {
  if (BACKEND === 'http') {
    const until = Date.now() + 5000;
    while (!done() && Date.now() < until) await sleep(10);
    await sleep(100);
  }
}

/**
 * A world where mum (the administrator) and dad are contacts of s1 and gran is unrelated, with
 * a second instance of mum (mum2) and an event log on every instance.
 */
async function callWorld(opts = {}) {
  const w = await makeWorld({ people: ['mum', 'dad', 'gran'], ...opts });
  await bindFamily(w, S, 'mum', ['dad'], '小明');
  const mum2 = await w.plugin({ openId: 'mum' });
  const logs = {};
  for (const [name, p] of Object.entries({ device: w.device, mum: w.mum, mum2, dad: w.dad, gran: w.gran })) logs[name] = eventLog(p);
  /** initByCaller from `from` (default: the world's device) to `to` (default mum); its roomId. */
  const call = async (extra = {}, { to = 'mum', from = w.device } = {}) => {
    const tok = await w.backend.issueVoipToken({ userId: S });
    const r = await from.initByCaller(callRequest(S, to, tok, extra));
    assert.equal(r.isSuccess, true, r.errMsg);
    assert.equal(r.groupId, r.roomId);
    return r.roomId;
  };
  /** Asserts the device's and both mum instances' whole logs; dad and gran heard nothing. */
  const expectSides = (caller, listener, message) =>
    expectEvents(
      [
        [logs.device, caller],
        [logs.mum, listener],
        [logs.mum2, listener],
        [logs.dad, []],
        [logs.gran, []],
      ],
      message,
    );
  return { ...w, mum2, logs, call, expectSides };
}

/** The event builders of one call (names default to the ids, as in the real plugin). */
function eventsOf(roomId, o = {}) {
  const callerName = o.callerName ?? S;
  const listenerName = o.listenerName ?? 'mum';
  const roomType = o.roomType ?? 'voice';
  const businessType = o.businessType ?? 0;
  return {
    joined: ev(roomId, 'joinedRoomByCaller'),
    incoming: ev(roomId, 'incomingVoip', { roomId, callerId: S, callerName, roomType, businessType }),
    start: ev(roomId, 'startVoip'),
    hangOn: ev(roomId, 'hangOnVoip'),
    busy: ev(roomId, 'busy'),
    timeout: ev(roomId, 'timeout'),
    reject: (status) => ev(roomId, 'rejectVoip', { status }),
    cancel: (status) => ev(roomId, 'cancelVoip', { status }),
    hangUp: (keepTime, status, origin) => ev(roomId, 'hangUpVoip', { keepTime, status, origin }),
    end: (keepTime, isCaller) => ev(roomId, 'endVoip', { keepTime, callerName, listenerName, roomType, isCaller, businessType }),
    finish: (keepTime) => ev(roomId, 'finishVoip', { keepTime }),
  };
}

describe('the rows of the §3.7 table, both sides', () => {
  test('admitted: joinedRoomByCaller for the device; incomingVoip { roomId, callerId, callerName, roomType, businessType } for every instance of the listener', async () => {
    const w = await callWorld();
    const room = await w.call({ roomType: 'video', caller: { id: S, name: '小明 🎒' }, listener: { id: 'mum', name: '妈妈' } });
    const e = eventsOf(room, { callerName: '小明 🎒', listenerName: '妈妈', roomType: 'video' });
    await w.expectSides([e.joined], [e.incoming]);
    // Another device's businessType 3 call to dad, no names: they default to the ids. mum's
    // instances hear nothing of it; dad's do.
    const dev2 = await w.plugin();
    const log2 = eventLog(dev2);
    const room2 = await w.call({ businessType: 3 }, { to: 'dad', from: dev2 });
    assert.notEqual(room2, room);
    const e2 = eventsOf(room2, { listenerName: 'dad', businessType: 3 });
    await expectEvents([
      [log2, [e2.joined]],
      [w.logs.dad, [e2.incoming]],
      [w.logs.device, [e.joined]],
      [w.logs.mum, [e.incoming]],
      [w.logs.mum2, [e.incoming]],
      [w.logs.gran, []],
    ]);
  });

  test('ringing → answerVoip: startVoip for the device; hangOnVoip then startVoip for each listener instance; then the device hangs up (61 s, billed 120 000)', async () => {
    const w = await callWorld();
    const room = await w.call();
    const e = eventsOf(room);
    await w.clock.advance(7_000); // ringing time is not call time
    assert.deepEqual(await w.mum.answerVoip({ roomId: room }), { errCode: 0, errMsg: 'answerVoip:ok' });
    await w.expectSides([e.joined, e.start], [e.incoming, e.hangOn, e.start]);
    await w.clock.advance(61_000);
    assert.equal(w.device.forceHangUpVoip(room), undefined);
    await w.expectSides(
      [e.joined, e.start, e.hangUp(61_000, 'endByCaller', 'forceFromApp'), e.end(61_000, true), e.finish(120_000)],
      [e.incoming, e.hangOn, e.start, e.hangUp(61_000, 'endByCaller', 'other'), e.end(61_000, false), e.finish(120_000)],
    );
  });

  test('the second instance of the listener may answer; the listener hangs up (no roomId): endByListener, forceFromApp on its side', async () => {
    const w = await callWorld();
    const room = await w.call({ roomType: 'video' });
    const e = eventsOf(room, { roomType: 'video' });
    await w.mum2.answerVoip({ roomId: room });
    await w.clock.advance(59_999);
    w.mum.forceHangUpVoip(); // mum's connected call: the same call, from her other instance
    await settle(); // over the service the hang-up is a request
    await w.expectSides(
      [e.joined, e.start, e.hangUp(59_999, 'endByListener', 'other'), e.end(59_999, true), e.finish(60_000)],
      [e.incoming, e.hangOn, e.start, e.hangUp(59_999, 'endByListener', 'forceFromApp'), e.end(59_999, false), e.finish(60_000)],
    );
  });

  test("ringing → rejectVoip: rejectVoip { status: 'other' } for the device, { status: 'manual' } for the listener; keepTime 0", async () => {
    const w = await callWorld();
    const room = await w.call();
    const e = eventsOf(room);
    await w.clock.advance(10_000);
    assert.deepEqual(await w.mum.rejectVoip({ roomId: room }), { errCode: 0, errMsg: 'rejectVoip:ok' });
    await w.expectSides(
      [e.joined, e.reject('other'), e.end(0, true), e.finish(0)],
      [e.incoming, e.reject('manual'), e.end(0, false), e.finish(0)],
    );
    // Ended: answering or rejecting it is 1004, hanging up does nothing.
    await rejectsVoip(w.mum.answerVoip({ roomId: room }), { api: 'answerVoip', errCode: 1004, cls: VoipPluginError });
    await rejectsVoip(w.mum2.rejectVoip({ roomId: room }), { api: 'rejectVoip', errCode: 1004, cls: VoipPluginError });
    assert.equal(w.device.forceHangUpVoip(room), undefined);
    assert.equal(w.mum.forceHangUpVoip(room), undefined);
    await w.expectSides(
      [e.joined, e.reject('other'), e.end(0, true), e.finish(0)],
      [e.incoming, e.reject('manual'), e.end(0, false), e.finish(0)],
    );
  });

  test('ringing → the listener hangs up (forceHangUpVoip): a rejection', async () => {
    const w = await callWorld();
    const room = await w.call();
    const e = eventsOf(room);
    w.mum2.forceHangUpVoip(room);
    await settle(); // over the service the hang-up is a request
    await w.expectSides(
      [e.joined, e.reject('other'), e.end(0, true), e.finish(0)],
      [e.incoming, e.reject('manual'), e.end(0, false), e.finish(0)],
    );
  });

  test("ringing → the device hangs up: cancelVoip { status: 'forceFromApp' } for the device, { status: 'other' } for the listener", async () => {
    const w = await callWorld();
    const room = await w.call();
    const e = eventsOf(room);
    await w.clock.advance(5_000);
    w.device.forceHangUpVoip(); // no roomId: the device's call
    await settle(); // over the service the hang-up is a request
    await w.expectSides(
      [e.joined, e.cancel('forceFromApp'), e.end(0, true), e.finish(0)],
      [e.incoming, e.cancel('other'), e.end(0, false), e.finish(0)],
    );
    // null is "no roomId" too; a roomId of no call of ours does nothing.
    const room2 = await w.call();
    const e2 = eventsOf(room2);
    w.device.forceHangUpVoip('not-this-room');
    await settle(); // over the service the hang-up is a request
    w.device.forceHangUpVoip(null);
    await settle(); // over the service the hang-up is a request
    await w.expectSides(
      [e.joined, e.cancel('forceFromApp'), e.end(0, true), e.finish(0), e2.joined, e2.cancel('forceFromApp'), e2.end(0, true), e2.finish(0)],
      [e.incoming, e.cancel('other'), e.end(0, false), e.finish(0), e2.incoming, e2.cancel('other'), e2.end(0, false), e2.finish(0)],
    );
  });

  test('ringing → no answer within the ring timeout (30 000 by default): timeout on both sides; an answer afterwards is 1004', async () => {
    const w = await callWorld();
    const room = await w.call();
    const e = eventsOf(room);
    await w.clock.advance(RING - 1);
    await w.backend.tick();
    await w.expectSides([e.joined], [e.incoming], 'not yet at 29 999 ms');
    await w.clock.advance(1);
    await w.backend.tick();
    const after = [
      [e.joined, e.timeout, e.end(0, true), e.finish(0)],
      [e.incoming, e.timeout, e.end(0, false), e.finish(0)],
    ];
    await w.expectSides(...after);
    await rejectsVoip(w.mum.answerVoip({ roomId: room }), { api: 'answerVoip', errCode: 1004 });
    await rejectsVoip(w.mum.rejectVoip({ roomId: room }), { api: 'rejectVoip', errCode: 1004 });
    await w.backend.tick(); // nothing more
    await w.expectSides(...after);
  });

  test('an answer that comes after the ring timeout, before any tick: the timeout happens first, the answer is 1004', async () => {
    const w = await callWorld();
    const room = await w.call();
    const e = eventsOf(room);
    await w.clock.advance(RING + 5_000);
    await rejectsVoip(w.mum.answerVoip({ roomId: room }), { api: 'answerVoip', errCode: 1004 });
    await w.expectSides(
      [e.joined, e.timeout, e.end(0, true), e.finish(0)],
      [e.incoming, e.timeout, e.end(0, false), e.finish(0)],
    );
    // The record says when it timed out: at the deadline, not when it was noticed.
    const [row] = (await w.backend.getVoipCallList({ user_id: S })).call_list;
    assert.equal(row.ending, 'timeout');
    assert.equal(row.ended_at_ms - row.rang_at_ms, RING);
  });

  test('an answer 1 ms before the ring timeout connects; the deadline then no longer applies', async () => {
    const w = await callWorld();
    const room = await w.call();
    const e = eventsOf(room);
    await w.clock.advance(RING - 1);
    await w.mum.answerVoip({ roomId: room });
    await w.clock.advance(10 * MINUTE);
    await w.backend.tick();
    await w.expectSides([e.joined, e.start], [e.incoming, e.hangOn, e.start]);
    w.mum.forceHangUpVoip(room);
    await settle(); // over the service the hang-up is a request
    await w.expectSides(
      [e.joined, e.start, e.hangUp(10 * MINUTE, 'endByListener', 'other'), e.end(10 * MINUTE, true), e.finish(10 * MINUTE)],
      [e.incoming, e.hangOn, e.start, e.hangUp(10 * MINUTE, 'endByListener', 'forceFromApp'), e.end(10 * MINUTE, false), e.finish(10 * MINUTE)],
    );
  });

  test("connected → timeLimit seconds reached: hangUpVoip { status: 'endByCaller', origin: 'timeLimit' } on both sides", async () => {
    const w = await callWorld();
    const room = await w.call({ timeLimit: 90 });
    const e = eventsOf(room);
    await w.clock.advance(3_000);
    await w.mum.answerVoip({ roomId: room }); // counted from the answer
    await w.clock.advance(89_999);
    await w.backend.tick();
    await w.expectSides([e.joined, e.start], [e.incoming, e.hangOn, e.start], 'not yet at 89 999 ms');
    await w.clock.advance(1);
    await w.backend.tick();
    await w.expectSides(
      [e.joined, e.start, e.hangUp(90_000, 'endByCaller', 'timeLimit'), e.end(90_000, true), e.finish(120_000)],
      [e.incoming, e.hangOn, e.start, e.hangUp(90_000, 'endByCaller', 'timeLimit'), e.end(90_000, false), e.finish(120_000)],
    );
  });

  test('a time limit noticed late still ends the call at the limit (keepTime = timeLimit exactly; fractional seconds; businessType 3 bills it exactly)', async () => {
    const w = await callWorld();
    const room = await w.call({ timeLimit: 61.5, businessType: 3 });
    const e = eventsOf(room, { businessType: 3 });
    await w.mum.answerVoip({ roomId: room });
    await w.clock.advance(10 * MINUTE);
    await w.backend.tick();
    await w.expectSides(
      [e.joined, e.start, e.hangUp(61_500, 'endByCaller', 'timeLimit'), e.end(61_500, true), e.finish(61_500)],
      [e.incoming, e.hangOn, e.start, e.hangUp(61_500, 'endByCaller', 'timeLimit'), e.end(61_500, false), e.finish(61_500)],
    );
  });

  test('busy: the listener is in a connected call → the new call ends at once (busy, endVoip, finishVoip 0 for its device); the listener hears nothing', async () => {
    const w = await callWorld();
    const room = await w.call();
    const e = eventsOf(room);
    await w.mum.answerVoip({ roomId: room });
    const dev2 = await w.plugin();
    const log2 = eventLog(dev2);
    const tok = await w.backend.issueVoipToken({ userId: S });
    const r = await dev2.initByCaller(callRequest(S, 'mum', tok, { listener: { id: 'mum', name: '妈妈' } }));
    assert.equal(r.isSuccess, true, 'admitted (then ended as busy)');
    const b = eventsOf(r.roomId, { listenerName: '妈妈' });
    await expectEvents([[log2, [b.busy, b.end(0, true), b.finish(0)]]]);
    await w.expectSides([e.joined, e.start], [e.incoming, e.hangOn, e.start], 'the first call goes on, unaware');
    // The busy device is free again: it calls dad.
    const room3 = await w.call({}, { to: 'dad', from: dev2 });
    const d = eventsOf(room3, { listenerName: 'dad' });
    await expectEvents([
      [log2, [b.busy, b.end(0, true), b.finish(0), d.joined]],
      [w.logs.dad, [d.incoming]],
    ]);
  });

  test('a listener whose other call only rings is not busy: both calls ring', async () => {
    const w = await callWorld();
    const roomA = await w.call();
    const dev2 = await w.plugin();
    const log2 = eventLog(dev2);
    const roomB = await w.call({}, { from: dev2 });
    const a = eventsOf(roomA);
    const b = eventsOf(roomB);
    await expectEvents([
      [w.logs.device, [a.joined]],
      [log2, [b.joined]],
      [w.logs.mum, [a.incoming, b.incoming]],
      [w.logs.mum2, [a.incoming, b.incoming]],
    ]);
  });
});

describe('who may act on a call', () => {
  test('only the listener answers or rejects: 9 for another contact, an unrelated parent, the device and another device; the call goes on', async () => {
    const w = await callWorld();
    const room = await w.call();
    const e = eventsOf(room);
    const dev2 = await w.plugin();
    for (const [who, p] of [['dad', w.dad], ['gran', w.gran], ['the device', w.device], ['another device', dev2]]) {
      for (const api of ['answerVoip', 'rejectVoip']) {
        const err = await rejectsVoip(p[api]({ roomId: room }), { api, errCode: 9, code: 'NOT_CONTACT_OF_CALLER', cls: VoipCgiError }).catch(
          (x) => assert.fail(`${who} ${api}: ${x.message}`),
        );
        assert.match(err.errMsg, /listener/);
      }
    }
    // A stranger's hang-up does nothing either.
    w.dad.forceHangUpVoip(room);
    await settle(); // over the service the hang-up is a request
    w.gran.forceHangUpVoip();
    await settle(); // over the service the hang-up is a request
    dev2.forceHangUpVoip(room);
    await settle(); // over the service the hang-up is a request
    await w.expectSides([e.joined], [e.incoming]);
    await w.mum.answerVoip({ roomId: room });
    await w.expectSides([e.joined, e.start], [e.incoming, e.hangOn, e.start]);
    // Connected: still only the listener (and rejecting a connected call is 1004: hang up instead).
    await rejectsVoip(w.dad.answerVoip({ roomId: room }), { api: 'answerVoip', errCode: 9 });
    await rejectsVoip(w.mum.rejectVoip({ roomId: room }), { api: 'rejectVoip', errCode: 1004 });
    await w.expectSides([e.joined, e.start], [e.incoming, e.hangOn, e.start]);
  });

  test('answerVoip / rejectVoip: 1004 for an unknown roomId or a bad argument; nothing happens', async () => {
    const w = await callWorld();
    const room = await w.call();
    const e = eventsOf(room);
    for (const api of ['answerVoip', 'rejectVoip']) {
      for (const arg of [{ roomId: 'no-such-room' }, { roomId: room + 'x' }, undefined, null, {}, { roomId: 5 }, { roomId: null }, room, [room]]) {
        await rejectsVoip(w.mum[api](arg), { api, errCode: 1004, cls: VoipPluginError }).catch((x) =>
          assert.fail(`${api}(${JSON.stringify(arg)}): ${x.message}`),
        );
      }
    }
    await w.expectSides([e.joined], [e.incoming]);
  });

  test('1005: a second initByCaller from the same device while its call rings or is connected (its token not spent); free again after the end', async () => {
    const w = await callWorld();
    const room = await w.call();
    const tok = await w.backend.issueVoipToken({ userId: S });
    const err = await rejectsVoip(w.device.initByCaller(callRequest(S, 'dad', tok)), { api: 'initByCaller', errCode: 1005, code: 'BUSY', cls: VoipPluginError });
    assert.ok(err.errMsg.includes(room), 'names the call in progress');
    await w.mum.answerVoip({ roomId: room });
    await rejectsVoip(w.device.initByCaller(callRequest(S, 'dad', tok)), { api: 'initByCaller', errCode: 1005 });
    w.device.forceHangUpVoip();
    await settle(); // over the service the hang-up is a request
    const r = await w.device.initByCaller(callRequest(S, 'dad', tok));
    assert.equal(r.isSuccess, true, r.errMsg);
    await expectEvents([[w.logs.dad, [eventsOf(r.roomId, { listenerName: 'dad' }).incoming]]]);
  });

  test('1005: the listener answering a second call while connected; it still rings, and can be answered after the first ends', async () => {
    const w = await callWorld();
    const roomA = await w.call();
    const dev2 = await w.plugin();
    const log2 = eventLog(dev2);
    const roomB = await w.call({}, { from: dev2 });
    const a = eventsOf(roomA);
    const b = eventsOf(roomB);
    await w.mum.answerVoip({ roomId: roomA });
    for (const p of [w.mum, w.mum2]) {
      const err = await rejectsVoip(p.answerVoip({ roomId: roomB }), { api: 'answerVoip', errCode: 1005, code: 'BUSY', cls: VoipPluginError });
      assert.ok(err.errMsg.includes(roomA), 'names the call in progress');
    }
    await expectEvents([
      [w.logs.device, [a.joined, a.start]],
      [log2, [b.joined]],
      [w.logs.mum, [a.incoming, b.incoming, a.hangOn, a.start]],
      [w.logs.mum2, [a.incoming, b.incoming, a.hangOn, a.start]],
    ]);
    await w.clock.advance(2_000);
    w.mum.forceHangUpVoip(roomA);
    await settle(); // over the service the hang-up is a request
    await w.mum2.answerVoip({ roomId: roomB });
    const listener = [a.incoming, b.incoming, a.hangOn, a.start, a.hangUp(2_000, 'endByListener', 'forceFromApp'), a.end(2_000, false), a.finish(60_000), b.hangOn, b.start];
    await expectEvents([
      [w.logs.device, [a.joined, a.start, a.hangUp(2_000, 'endByListener', 'other'), a.end(2_000, true), a.finish(60_000)]],
      [log2, [b.joined, b.start]],
      [w.logs.mum, listener],
      [w.logs.mum2, listener],
      [w.logs.dad, []],
    ]);
  });

  test('a call whose ring timeout passed no longer holds its device: the next initByCaller ends it first (its events first), then rings', async () => {
    const w = await callWorld();
    const roomA = await w.call();
    await w.clock.advance(RING);
    const roomB = await w.call({}, { to: 'dad' });
    const a = eventsOf(roomA);
    const b = eventsOf(roomB, { listenerName: 'dad' });
    await expectEvents([
      [w.logs.device, [a.joined, a.timeout, a.end(0, true), a.finish(0), b.joined]],
      [w.logs.mum, [a.incoming, a.timeout, a.end(0, false), a.finish(0)]],
      [w.logs.dad, [b.incoming]],
    ]);
  });
});

describe('billing (finishVoip) and the call records', () => {
  test('finishVoip: per started minute for businessType 0, the exact time for 3, on both sides; the records agree', async () => {
    const w = await callWorld();
    const cases = [
      // [businessType, connected ms, billed ms]
      [0, 0, 0],
      [0, 1, 60_000],
      [0, 59_999, 60_000],
      [0, 60_000, 60_000],
      [0, 60_001, 120_000],
      [0, 61_000, 120_000],
      [0, 3 * MINUTE, 3 * MINUTE],
      [3, 0, 0],
      [3, 1, 1],
      [3, 61_000, 61_000],
      [3, 61_234, 61_234],
    ];
    const rooms = [];
    for (const [businessType, kept, billed] of cases) {
      w.logs.device.length = 0;
      w.logs.mum.length = 0;
      await w.clock.advance(1_000); // no two end at the same time (ties are listed by roomId)
      const room = await w.call({ businessType });
      await w.mum.answerVoip({ roomId: room });
      await w.clock.advance(kept);
      w.device.forceHangUpVoip(room);
      await settle(); // over the service the hang-up is a request
      const e = eventsOf(room, { businessType });
      await expectEvents(
        [
          [w.logs.device, [e.joined, e.start, e.hangUp(kept, 'endByCaller', 'forceFromApp'), e.end(kept, true), e.finish(billed)]],
          [w.logs.mum, [e.incoming, e.hangOn, e.start, e.hangUp(kept, 'endByCaller', 'other'), e.end(kept, false), e.finish(billed)]],
        ],
        `businessType ${businessType}, ${kept} ms`,
      );
      rooms.push(room);
    }
    const list = (await w.backend.getVoipCallList({ user_id: S })).call_list;
    assert.deepEqual(
      list.map((r) => [r.room_id, r.business_type, r.charge_type, r.keep_time_ms, r.billed_time_ms, r.ending]),
      cases.map(([bt, kept, billed], i) => [rooms[i], bt, bt === 3 ? 'license' : 'duration', kept, billed, 'endByCaller']),
    );
  });

  test('getVoipCallList: one row per ended call, oldest ending first, every field', async () => {
    const w = await callWorld();
    const t0 = w.clock.now();
    // 1: answered at +2 s, the listener hangs up at +47 s.
    const r1 = await w.call({ businessType: 3 });
    await w.clock.advance(2_000);
    await w.mum.answerVoip({ roomId: r1 });
    await w.clock.advance(45_000);
    w.mum.forceHangUpVoip(r1);
    await settle(); // over the service the hang-up is a request
    // 2: rejected after 1 s; 3: cancelled after 1 s; 4: timed out (to dad); 6: a time limit of
    // 10 s; 5: busy (mum is connected in 6). No two end at the same time (ties are listed by
    // roomId).
    await w.clock.advance(1_000);
    const r2 = await w.call();
    await w.clock.advance(1_000);
    await w.mum.rejectVoip({ roomId: r2 });
    const r3 = await w.call();
    await w.clock.advance(1_000);
    w.device.forceHangUpVoip();
    await settle(); // over the service the hang-up is a request
    const t = t0 + 50_000;
    const r4 = await w.call({}, { to: 'dad' });
    await w.clock.advance(RING);
    await w.backend.tick();
    await w.clock.advance(1_000);
    const t6 = t + RING + 1_000;
    const r6 = await w.call({ timeLimit: 10 });
    await w.mum.answerVoip({ roomId: r6 });
    const dev2 = await w.plugin();
    const r5 = await w.call({}, { from: dev2 });
    await w.clock.advance(10_000);
    await w.backend.tick();
    // 7: still ringing: not listed.
    const r7 = await w.call();
    const row = (room_id, o) => ({
      room_id,
      user_id: S,
      open_id: 'mum',
      business_type: 0,
      charge_type: 'duration',
      connected_at_ms: null,
      keep_time_ms: 0,
      billed_time_ms: 0,
      ...o,
    });
    const expected = [
      row(r1, { business_type: 3, charge_type: 'license', rang_at_ms: t0, connected_at_ms: t0 + 2_000, ended_at_ms: t0 + 47_000, keep_time_ms: 45_000, billed_time_ms: 45_000, ending: 'endByListener' }),
      row(r2, { rang_at_ms: t0 + 48_000, ended_at_ms: t0 + 49_000, ending: 'rejected' }),
      row(r3, { rang_at_ms: t0 + 49_000, ended_at_ms: t, ending: 'cancelled' }),
      row(r4, { open_id: 'dad', rang_at_ms: t, ended_at_ms: t + RING, ending: 'timeout' }),
      row(r5, { rang_at_ms: t6, ended_at_ms: t6, ending: 'busy' }),
      row(r6, { rang_at_ms: t6, connected_at_ms: t6, ended_at_ms: t6 + 10_000, keep_time_ms: 10_000, billed_time_ms: 60_000, ending: 'timeLimit' }),
    ];
    assert.deepEqual(await w.backend.getVoipCallList({ user_id: S }), { errcode: 0, errmsg: 'ok', call_list: expected });
    assert.ok(!JSON.stringify(expected).includes(r7));
    // Another student's list, and a student without calls: empty.
    assert.deepEqual(await w.backend.getVoipCallList({ user_id: 's2' }), { errcode: 0, errmsg: 'ok', call_list: [] });
  });

  test('getVoipCallList: begin_time / end_time are Unix seconds of the ring, both inclusive', async () => {
    const w = await callWorld();
    // Ring times at a whole second + 0 ms, then one hour + 999 ms later.
    await w.clock.advance(1000 - (w.clock.now() % 1000));
    const a = w.clock.now();
    const rA = await w.call();
    w.device.forceHangUpVoip();
    await settle(); // over the service the hang-up is a request
    await w.clock.advance(60 * MINUTE + 999);
    const b = w.clock.now();
    const rB = await w.call();
    w.device.forceHangUpVoip();
    await settle(); // over the service the hang-up is a request
    const sa = a / 1000;
    const sb = Math.floor(b / 1000);
    const rooms = async (q) => (await w.backend.getVoipCallList({ user_id: S, ...q })).call_list.map((r) => r.room_id);
    assert.deepEqual(await rooms({}), [rA, rB]);
    assert.deepEqual(await rooms({ begin_time: sa }), [rA, rB]);
    assert.deepEqual(await rooms({ begin_time: sa + 1 }), [rB]);
    assert.deepEqual(await rooms({ end_time: sa }), [rA]);
    assert.deepEqual(await rooms({ end_time: sb - 1 }), [rA]);
    assert.deepEqual(await rooms({ begin_time: sb, end_time: sb }), [rB], 'the whole second, up to its 999th ms');
    assert.deepEqual(await rooms({ begin_time: sb + 1 }), []);
    assert.deepEqual(await rooms({ begin_time: sa + 1, end_time: sb - 1 }), []);
    assert.deepEqual(await rooms({ begin_time: 0, end_time: sb }), [rA, rB]);
  });

  test('getVoipCallList: bad arguments are 1004', localOnly('the service answers the school server with WeChat errcodes'), async () => {
    const w = await callWorld();
    for (const arg of [
      undefined,
      null,
      5,
      'only the user',
      {},
      { user_id: 5 },
      { user_id: '' },
      { user_id: 'x'.repeat(129) },
      { userId: S },
      { user_id: S, begin_time: -1 },
      { user_id: S, begin_time: 1.5 },
      { user_id: S, begin_time: '0' },
      { user_id: S, begin_time: NaN },
      { user_id: S, end_time: Infinity },
      { user_id: S, end_time: null },
      { user_id: S, begin_time: 10, end_time: 9 },
    ]) {
      await rejectsVoip(w.backend.getVoipCallList(arg), { api: 'getVoipCallList', errCode: 1004, cls: VoipPluginError }).catch((x) =>
        assert.fail(`getVoipCallList(${JSON.stringify(arg)}): ${x.message}`),
      );
    }
  });

  for (const [label, storageOf] of [
    ['memoryStorage', () => ({ storage: cv.memoryStorage(), done() {} })],
    [
      'fileStorage',
      () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'campus-voip-calls-'));
        return { storage: cv.fileStorage(dir), reopen: () => cv.fileStorage(dir), done: () => fs.rmSync(dir, { recursive: true, force: true }) };
      },
    ],
  ]) {
    test(`the records survive a reopen of the backend on the same storage (${label}); a call still ringing at close is gone`, localOnly('storage adapters'), async () => {
      const s = storageOf();
      try {
        const clock = makeClock();
        const w = await callWorld({ storage: s.storage, clock });
        const r1 = await w.call();
        await w.mum.answerVoip({ roomId: r1 });
        await clock.advance(75_000);
        w.device.forceHangUpVoip();
        await settle(); // over the service the hang-up is a request
        await clock.advance(1_000); // no two end at the same time (ties are listed by roomId)
        const r2 = await w.call({ businessType: 3 });
        await w.mum.rejectVoip({ roomId: r2 });
        const ringing = await w.call();
        await clock.advance(1_000);
        const before = await w.backend.getVoipCallList({ user_id: S });
        assert.equal(before.call_list.length, 2);
        w.backend.close();
        const again = await cv.createLocalBackend({ storage: s.reopen ? s.reopen() : s.storage, now: clock.now, dev: true });
        assert.deepEqual(await again.getVoipCallList({ user_id: S }), before);
        // The ringing call lived in the closed backend only.
        const mum = await cv.createVoipPlugin({ backend: again, openId: 'mum' });
        await rejectsVoip(mum.answerVoip({ roomId: ringing }), { api: 'answerVoip', errCode: 1004 });
        // New calls add to the old records.
        const device = await cv.createVoipPlugin({ backend: again });
        const tok = await again.issueVoipToken({ userId: S });
        const r = await device.initByCaller(callRequest(S, 'mum', tok));
        device.forceHangUpVoip();
        await settle(); // over the service the hang-up is a request
        assert.deepEqual(
          (await again.getVoipCallList({ user_id: S })).call_list.map((x) => x.room_id),
          [r1, r2, r.roomId],
        );
        again.close();
      } finally {
        s.done();
      }
    });
  }
});

describe('the ring timeout setting', () => {
  test('createLocalBackend({ ringTimeoutMs }): a whole number 5 000–120 000, else 1004', localOnly('createLocalBackend options'), async () => {
    for (const bad of [4_999, 120_001, 0, -5_000, 5_000.5, NaN, Infinity, '30000', null, true]) {
      const err = await rejectsVoip(cv.createLocalBackend({ ringTimeoutMs: bad }), { api: 'createLocalBackend', errCode: 1004, cls: VoipPluginError }).catch(
        (x) => assert.fail(`ringTimeoutMs ${String(bad)}: ${x.message}`),
      );
      assert.match(err.errMsg, /ringTimeoutMs/);
    }
    for (const good of [5_000, 120_000]) (await cv.createLocalBackend({ ringTimeoutMs: good })).close();
  });

  for (const ms of [5_000, 120_000]) {
    test(`ringTimeoutMs ${ms}: the call times out at exactly ${ms} ms`, async () => {
      const w = await callWorld({ ringTimeoutMs: ms });
      const room = await w.call();
      const e = eventsOf(room);
      await w.clock.advance(ms - 1);
      await w.backend.tick();
      await w.expectSides([e.joined], [e.incoming]);
      await w.clock.advance(1);
      await w.backend.tick();
      await w.expectSides(
        [e.joined, e.timeout, e.end(0, true), e.finish(0)],
        [e.incoming, e.timeout, e.end(0, false), e.finish(0)],
      );
    });
  }

  test('the backend arms a real timer for the next deadline and re-arms it after each change (no tick() needed)', localOnly('the local backend’s timer'), async () => {
    const w = await callWorld({ ringTimeoutMs: 5_000 });
    const room = await w.call();
    await w.clock.advance(4_990);
    // A change (another device's call) re-arms the timer: the first call's deadline is 10 ms away.
    const dev2 = await w.plugin();
    const other = await w.call({}, { from: dev2, to: 'dad' });
    await w.clock.advance(10);
    await sleep(150);
    const e = eventsOf(room);
    await expectEvents([
      [w.logs.device, [e.joined, e.timeout, e.end(0, true), e.finish(0)]],
      [w.logs.mum, [e.incoming, e.timeout, e.end(0, false), e.finish(0)]],
      [w.logs.dad, [eventsOf(other, { listenerName: 'dad' }).incoming]],
    ]);
  });
});

describe('delivery, calling, end page', () => {
  test("a change's events are delivered before the API's promise resolves (before forceHangUpVoip returns)", localOnly('the local backend delivers synchronously; over the service events follow on the stream'), async () => {
    const w = await callWorld();
    const lengths = () => [w.logs.device.length, w.logs.mum.length, w.logs.mum2.length];
    const tok = await w.backend.issueVoipToken({ userId: S });
    let at;
    const p = w.device.initByCaller(callRequest(S, 'mum', tok)).then((r) => ((at = lengths()), r));
    const { roomId } = await p;
    assert.deepEqual(at, [1, 1, 1]);
    await w.mum.answerVoip({ roomId }).then(() => (at = lengths()));
    assert.deepEqual(at, [2, 3, 3]);
    w.device.forceHangUpVoip();
    await settle(); // over the service the hang-up is a request
    assert.deepEqual(lengths(), [5, 6, 6]);
    const tok2 = await w.backend.issueVoipToken({ userId: S });
    const r2 = await w.device.initByCaller(callRequest(S, 'mum', tok2));
    await w.mum.rejectVoip({ roomId: r2.roomId }).then(() => (at = lengths()));
    assert.deepEqual(at, [9, 10, 10]);
  });

  test('calling { keepTime } once a second per side while connected, keepTime from the backend clock; none after the end', async () => {
    const w = await callWorld();
    // A: connected, then ended at once: its instances must stop ticking.
    const roomA = await w.call();
    await w.mum.answerVoip({ roomId: roomA });
    w.device.forceHangUpVoip();
    await settle(); // over the service the hang-up is a request
    // B: another device and dad, connected through the wait.
    const dev2 = await w.plugin();
    const log2 = eventLog(dev2);
    const roomB = await w.call({}, { from: dev2, to: 'dad' });
    await w.dad.answerVoip({ roomId: roomB });
    await w.clock.advance(5_000);
    await sleep(1_100);
    const calling = (log) => log.filter((x) => x.eventName === 'calling');
    assert.deepEqual(calling(log2), [ev(roomB, 'calling', { keepTime: 5_000 })]);
    assert.deepEqual(calling(w.logs.dad), [ev(roomB, 'calling', { keepTime: 5_000 })]);
    for (const name of ['device', 'mum', 'mum2', 'gran']) assert.deepEqual(calling(w.logs[name]), [], name);
    w.dad.forceHangUpVoip();
    await settle(); // over the service the hang-up is a request
    const last = (log) => log.slice(-3).map((x) => x.eventName);
    assert.deepEqual(last(log2), ['hangUpVoip', 'endVoip', 'finishVoip']);
    assert.deepEqual(last(w.logs.dad), ['hangUpVoip', 'endVoip', 'finishVoip']);
  });

  test('the Call end page: each side navigates after its endVoip (before finishVoip); the BindContact page is not opened', async () => {
    const w = await callWorld();
    const timeline = { device: [], mum: [] };
    const make = async (name, o) => {
      const p = await w.plugin({ ...o, navigate: (r) => timeline[name].push(['navigate', r]) });
      p.onVoipEvent((e) => timeline[name].push([e.eventName]));
      p.setVoipEndPagePath({ key: 'Call', url: '/pages/after-call/after-call', options: 'from=call&side=' + name });
      p.setVoipEndPagePath({ key: 'BindContact', url: '/pages/bound/bound' });
      return p;
    };
    const device = await make('device', {});
    const mum = await make('mum', { openId: 'mum' });
    // Over the service a new instance's stream opens in the background: it hears what is
    // committed after it opened (wait for that before ringing).
    await settle();
    const nav = (side, routeType = 'redirectTo') => [
      'navigate',
      {
        key: 'Call',
        url: '/pages/after-call/after-call',
        options: 'from=call&side=' + side,
        routeType,
        path: '/pages/after-call/after-call?from=call&side=' + side,
      },
    ];
    const room = await w.call({}, { from: device });
    await mum.answerVoip({ roomId: room });
    device.forceHangUpVoip();
    await settle(); // over the service the hang-up is a request
    await waitFor(() => timeline.device.length >= 6 && timeline.mum.length >= 7);
    assert.deepEqual(timeline.device, [['joinedRoomByCaller'], ['startVoip'], ['hangUpVoip'], ['endVoip'], nav('device'), ['finishVoip']]);
    assert.deepEqual(timeline.mum, [['incomingVoip'], ['hangOnVoip'], ['startVoip'], ['hangUpVoip'], ['endVoip'], nav('mum'), ['finishVoip']]);
    // Every ending navigates, with the routeType set; an instance without an end page does not.
    timeline.device.length = 0;
    timeline.mum.length = 0;
    mum.setVoipEndPagePath({ key: 'Call', url: '/pages/after-call/after-call', options: 'from=call&side=mum', routeType: 'reLaunch' });
    const room2 = await w.call({}, { from: device });
    await mum.rejectVoip({ roomId: room2 });
    await waitFor(() => timeline.device.length >= 5 && timeline.mum.length >= 5);
    assert.deepEqual(timeline.device, [['joinedRoomByCaller'], ['rejectVoip'], ['endVoip'], nav('device'), ['finishVoip']]);
    assert.deepEqual(timeline.mum, [['incomingVoip'], ['rejectVoip'], ['endVoip'], nav('mum', 'reLaunch'), ['finishVoip']]);
  });

  test("CALL_PAGE_PATH outside a Mini Program is 'pages/call/call'; getPluginOnloadOptions() is the call page's query", async () => {
    const w = await callWorld();
    for (const p of [w.mum, w.device, cv.default]) assert.equal(p.CALL_PAGE_PATH, 'pages/call/call');
    assert.deepEqual(w.mum.getPluginOnloadOptions(), {});
    const room = await w.call();
    const query = { roomId: room, isCaller: '0', callerName: S };
    w.mum._callPageLoaded(query); // what the plugin's call page does in onLoad
    assert.deepEqual(w.mum.getPluginOnloadOptions(), query);
    assert.deepEqual(w.mum2.getPluginOnloadOptions(), {}, 'per instance');
    w.mum._callPageLoaded(null);
    assert.deepEqual(w.mum.getPluginOnloadOptions(), {});
  });

  test('a disposed instance of the listener hears nothing more; the call goes on for the others', async () => {
    const w = await callWorld();
    const room = await w.call();
    const e = eventsOf(room);
    // Over the service the ring reaches each instance on its own stream: mum2 hears it first.
    await waitFor(() => w.logs.mum2.length >= 1);
    w.mum2.dispose();
    await w.mum.answerVoip({ roomId: room });
    w.device.forceHangUpVoip();
    await settle(); // over the service the hang-up is a request
    await expectEvents([
      [w.logs.mum2, [e.incoming]],
      [w.logs.mum, [e.incoming, e.hangOn, e.start, e.hangUp(0, 'endByCaller', 'other'), e.end(0, false), e.finish(0)]],
      [w.logs.device, [e.joined, e.start, e.hangUp(0, 'endByCaller', 'forceFromApp'), e.end(0, true), e.finish(0)]],
    ]);
  });
});
