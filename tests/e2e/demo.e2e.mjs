#!/usr/bin/env node
// End-to-end test of the browser demo (www-demo/), through the UI only, as a person would use it.
// Run from the repository root after a build:  node scripts/build.mjs && node tests/e2e/demo.e2e.mjs
// (the contact service binary too: cargo build -p campus-voip-server).
//
// Starts scripts/serve-demo.mjs on a free port (the contact service --dev behind it, a fresh data
// folder), drives Debian's Chromium (/usr/bin/chromium) with playwright-core from
// tools/node_modules, and walks the whole story twice: on the service (the overview, then the
// device and Dad's phone as their own pages in separate browser contexts: calls that ring, are
// answered and carry WebRTC media, rejected, timed out, busy) and on the in-page local backend
// (?backend=local); then one call in a second browser with Chromium's fake camera and microphone
// and the permission granted (the camera path; the stories above run without any media flags,
// on the pages' synthetic media). It asserts what is visible, runs axe-core on every page, and fails on any
// console error, page error, failed request, HTTP error or request off the origin. Screenshots
// of the main steps go to a fresh folder under os.tmpdir(), printed at the end. The pages are
// only clicked, typed into and read; page.evaluate runs axe-core, nothing else.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const PW = path.join(ROOT, 'tools', 'node_modules', 'playwright-core', 'index.mjs');
const CHROMIUM = '/usr/bin/chromium';
const TIMEOUT = 8000;
const started = Date.now();

function die(msg) {
  console.error(`\x1b[31mdemo e2e: ${msg}\x1b[0m`);
  process.exit(1);
}
if (!fs.existsSync(path.join(ROOT, 'dist', 'npm', 'index.mjs'))) die('dist/npm/ is missing: run `node scripts/build.mjs` first');
if (!fs.existsSync(PW)) die('tools/node_modules/playwright-core is missing: run scripts/bootstrap.sh first');
if (!fs.existsSync(CHROMIUM)) die(`${CHROMIUM} is missing (apt-get install -y chromium)`);
const { chromium } = await import(pathToFileURL(PW).href);

const shots = fs.mkdtempSync(path.join(os.tmpdir(), 'campus-voip-demo-e2e-'));
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'campus-voip-demo-profile-'));
const problems = [];
let server;
let browser;
const AXE = path.join(ROOT, 'tools', 'node_modules', 'axe-core', 'axe.min.js');

// ---- the server ------------------------------------------------------------------------------

function startServer(extra = []) {
  return new Promise((resolve, reject) => {
    const data = fs.mkdtempSync(path.join(os.tmpdir(), 'campus-voip-demo-data-'));
    const child = spawn(process.execPath, [path.join(ROOT, 'scripts', 'serve-demo.mjs'), '--port', '0', '--data', data, ...extra], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const timer = setTimeout(() => reject(new Error('serve-demo did not print its address within 10 s:\n' + out)), 10000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[0], port: Number(m[1]) });
      }
    });
    child.stderr.on('data', (d) => {
      out += d;
      process.stderr.write('[serve-demo] ' + d);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve-demo exited (${code}):\n${out}`));
    });
  });
}

/** A raw GET (no URL normalisation, so '..' reaches the server as typed). */
function rawGet(port, rawPath) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: rawPath, method: 'GET' }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'] || '', headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

// ---- assertions (reading the DOM only) -------------------------------------------------------

function assert(cond, msg) {
  if (!cond) throw new Error('assertion failed: ' + msg);
}

/** Waits until the locator's visible text contains every one of `needles`. */
async function seeText(locator, needles, what) {
  const list = Array.isArray(needles) ? needles : [needles];
  const deadline = Date.now() + TIMEOUT;
  let text = '';
  for (;;) {
    try {
      text = await locator.innerText({ timeout: 1000 });
      if (list.every((n) => (n instanceof RegExp ? n.test(text) : text.includes(n)))) return text;
    } catch (_) {
      // not there yet
    }
    if (Date.now() > deadline) {
      throw new Error(`expected ${what || 'text'} to show ${list.map(String).join(' + ')}; it shows:\n---\n${text}\n---`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function notSeeText(locator, needle, what) {
  const text = await locator.innerText();
  assert(!text.includes(needle), `${what || 'text'} should not show ${JSON.stringify(needle)}; it shows:\n${text}`);
}

// ---- the walk --------------------------------------------------------------------------------

let page;
let mode = 'service';
let stepNo = 0;
let shotNo = 0;
const slug = (t) => t.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');

/** A full-page screenshot, scrolled to the top first (as a person would) so the sticky log sits right. */
async function snap(title) {
  shotNo++;
  const file = `${String(shotNo).padStart(2, '0')}-${mode}-${slug(title)}.png`;
  await page.locator('.topbar').scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(shots, file), fullPage: true });
  return file;
}

async function step(title, fn) {
  const t0 = Date.now();
  await fn();
  stepNo++;
  const file = await snap(title);
  console.log(`  ✓ [${((Date.now() - started) / 1000).toFixed(1)} s] ${title} \x1b[2m(${Date.now() - t0} ms, ${file})\x1b[0m`);
}

const phone = (n, name, pg = page) => pg.getByRole('region', { name: `Phone ${n}: ${name}` });
const device = (pg = page) => pg.getByRole('region', { name: 'Face-pay device' });
const callScreen = (p) => p.getByRole('alertdialog');
const relations = () => page.getByRole('region', { name: 'Who can call whom' });
const relationsText = () => page.getByTestId('relations-text');
const dialog = (p) => p.getByRole('dialog');
const btn = (scope, name) => scope.getByRole('button', { name, exact: true });

async function ready(pg = page) {
  await pg.locator('body[data-ready="true"]').waitFor({ timeout: 20000 });
}

/** Every page is watched the same way (console errors, failed requests, other origins). */
function watch(pg, origin, label) {
  pg.on('console', (m) => {
    if (m.type() === 'error') problems.push(`${label}: console error: ${m.text()}`);
  });
  pg.on('pageerror', (e) => problems.push(`${label}: page error: ${e.message}`));
  pg.on('requestfailed', (r) => {
    // A page that navigates away (reload, reset) cancels what it has in flight (its event
    // streams, a periodic refresh): not a failure. So does a service restarting for a new limit.
    if (r.failure() && r.failure().errorText === 'net::ERR_ABORTED' && leaving.has(pg)) return;
    problems.push(`${label}: request failed at ${((Date.now() - started) / 1000).toFixed(1)} s: ${r.url()} (${r.failure() && r.failure().errorText})`);
  });
  pg.on('response', (r) => {
    if (r.status() >= 400) problems.push(`${label}: HTTP ${r.status()} for ${r.url()}`);
  });
  pg.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith('data:') && !u.startsWith('blob:') && new URL(u).origin !== origin) problems.push(`${label}: request off the origin: ${u}`);
  });
}

/** A new browser context (its own storage: another window, another machine) with one page. */
async function openPage(url, label, { from = browser, permissions } = {}) {
  const ctx = await from.newContext({ viewport: { width: 1280, height: 900 }, ...(permissions ? { permissions } : {}) });
  ctx.setDefaultTimeout(TIMEOUT);
  const pg = await ctx.newPage();
  watch(pg, new URL(url).origin, label);
  await pg.goto(url);
  await ready(pg);
  return pg;
}

/** axe-core on the page as it is now: no serious or critical violation. */
async function axe(pg, what) {
  await pg.evaluate(fs.readFileSync(AXE, 'utf8'));
  const res = await pg.evaluate(() => globalThis.axe.run(document, { resultTypes: ['violations'] }));
  const bad = res.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert(
    !bad.length,
    `axe on ${what}: ` + bad.map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')})`).join('; '),
  );
  axeRuns++;
}
let axeRuns = 0;

/** Pages being reloaded or reset (their event streams are cancelled on the way out). */
const leaving = new WeakSet();

/** A page's screenshot under a step name (the other windows' steps). */
async function shot(pg, title) {
  shotNo++;
  const file = `${String(shotNo).padStart(2, '0')}-${mode}-${slug(title)}.png`;
  await pg.screenshot({ path: path.join(shots, file), fullPage: true });
  return file;
}

/** The media of a call on one side: video decoded and playing, inbound bytes growing (getStats). */
async function mediaFlows(scope, what) {
  const stats = scope.getByTestId('media-stats');
  const read = async () => ({
    w: Number(await stats.getAttribute('data-video-width')),
    t: Number(await stats.getAttribute('data-current-time')),
    b: Number(await stats.getAttribute('data-bytes-received')),
  });
  const deadline = Date.now() + 20000;
  let a;
  for (;;) {
    a = await read().catch(() => ({ w: 0, t: 0, b: 0 }));
    if (a.w > 0 && a.b > 0) break;
    if (Date.now() > deadline) throw new Error(`${what}: no media arrived (${JSON.stringify(a)}; ${await stats.innerText().catch(() => '')})`);
    await new Promise((r) => setTimeout(r, 200));
  }
  await new Promise((r) => setTimeout(r, 2500));
  const b = await read();
  assert(b.w > 0, `${what}: videoWidth ${b.w}`);
  assert(b.t > a.t, `${what}: currentTime advances (${a.t} → ${b.t})`);
  assert(b.b > a.b, `${what}: inbound bytes grow (${a.b} → ${b.b})`);
  return b;
}

async function openIds() {
  const ids = [];
  for (const [n, name] of [[1, 'Mum'], [2, 'Dad'], [3, 'Grandma']]) ids.push((await phone(n, name).locator('.openid').innerText()).trim());
  return ids;
}

/** The bind page on phone `p`: press `button`, check the outcome badge and text (screenshot). */
async function bindOutcome(p, button, type, texts) {
  const d = dialog(p);
  await d.waitFor();
  await btn(d, button).click();
  await seeText(d.locator('.outcome .badge'), type, 'bind outcome');
  const badge = (await d.locator('.outcome .badge').innerText()).trim();
  assert(badge === type, `bind outcome is ${badge}, expected ${type}`);
  await seeText(d.locator('.outcome'), texts, `the ${type} explanation`);
  await seeText(d.locator('.outcome .nav'), 'redirectTo /pages/family/family?from=bindContact', 'the end-page note');
  await snap(`bind page outcome ${type}`);
}

async function done(p) {
  await btn(dialog(p), 'Done').click();
  await dialog(p).waitFor({ state: 'hidden' });
}

/** The calls: on the service, the device and Dad's phone are pages of their own (own contexts). */
async function callStory(url, dadHere) {
  const service = mode === 'service';
  let devPage = page;
  let dadPage = page;
  let dadP = dadHere;
  if (service) {
    devPage = await openPage(url + 'device.html', 'device page');
    dadPage = await openPage(url + 'phone.html?parent=p2', 'Dad’s phone page');
    dadP = phone(2, 'Dad', dadPage);
    await axe(devPage, 'the device page');
    await axe(dadPage, 'Dad’s phone page');
  }
  const dev = device(devPage);
  const both = async (title) => {
    const f1 = await shot(devPage, title + ' (device)');
    const f2 = service ? await shot(dadPage, title + ' (Dad’s phone)') : '';
    return [f1, f2].filter(Boolean).join(', ');
  };
  const cstep = async (title, fn) => {
    const t0 = Date.now();
    await fn();
    stepNo++;
    console.log(`  ✓ ${title} \x1b[2m(${Date.now() - t0} ms, ${await both(title)})\x1b[0m`);
  };
  const dial = async (bt) => {
    await dev.getByRole('button', { name: 'Scan Li Ming' }).click();
    await seeText(dev.locator('.scan-status'), ['Scanned: Li Ming', 'one call']);
    await dev.getByRole('radio', { name: /^Dad/ }).check();
    await dev.getByRole('radio', { name: bt === 3 ? /^3 · face recognition/ : /^0 · face-pay/ }).check();
    await btn(dev, 'Call').click();
    await seeText(dev.locator('.device-result'), 'Ringing Dad');
    await seeText(callScreen(dadP), ['Li Ming', 'Incoming call']);
  };
  const close = async () => {
    await btn(callScreen(dadP), 'Close').click();
    await callScreen(dadP).waitFor({ state: 'hidden' });
  };
  const logRow = async (ending) => seeText(dev.locator('table.calls'), ending, 'the call log');

  await cstep('Device calls Dad: the phone rings', async () => {
    await dial(0);
    assert(await btn(callScreen(dadP), 'Answer').isVisible(), 'an Answer button');
    assert(await btn(callScreen(dadP), 'Reject').isVisible(), 'a Reject button');
    await seeText(devPage.locator('#log .entries'), ['joinedRoomByCaller', 'initByCaller']);
    if (service) await seeText(dadPage.locator('#log .entries'), 'incomingVoip');
    if (service) await axe(dadPage, 'Dad’s phone ringing');
  });

  await cstep('Dad answers: picture and sound both ways', async () => {
    await btn(callScreen(dadP), 'Answer').click();
    await seeText(dev.locator('.device-result'), ['Connected: Li Ming is talking to Dad', 'roomId', 'duration']);
    await seeText(callScreen(dadP), 'Connected');
    const [d, p] = await Promise.all([mediaFlows(dev, 'the device'), mediaFlows(dadP, 'Dad’s phone')]);
    console.log(`    media: device receives ${d.w} px wide, ${d.b} B; phone receives ${p.w} px wide, ${p.b} B`);
    await seeText(dev.locator('.timer'), /0:0[1-9]|0:[1-5]\d/);
    await axe(devPage, 'the device in a call');
    if (service) await axe(dadPage, 'Dad’s phone in a call');
  });

  await cstep('Dad hangs up from the phone', async () => {
    await btn(callScreen(dadP), 'Hang up').click();
    await seeText(callScreen(dadP), ['You hung up', 'call ended after', 'Billed time: 1:00']);
    await seeText(dev.locator('.device-result'), ['Dad hung up', 'call ended after', 'Billed time: 1:00', 'reLaunch /pages/call-ended/call-ended?from=facepay']);
    await seeText(devPage.locator('#log .entries'), ['hangUpVoip', 'endVoip', 'finishVoip', 'startVoip', 'calling']);
    await axe(dadPage, 'Dad’s phone after the call');
    await seeText(dadPage.locator('#log .entries'), ['hangUpVoip', 'endVoip', 'finishVoip']);
    await logRow('endByListener');
    // The overview's Dad (another instance of the same openId) rang too, and tells it so.
    if (service) await seeText(dadHere.locator('.notice'), 'Li Ming’s call on another screen ended after 0:0');
    await close();
  });

  await cstep('Calling again on the used scan: errCode 4', async () => {
    await btn(dev, 'Call').click();
    await seeText(dev.locator('.device-result'), ['errCode 4', 'The face scan is no longer valid', 'Scan Li Ming’s face again']);
  });

  await cstep('Dad rejects a call', async () => {
    await dial(0);
    await btn(callScreen(dadP), 'Reject').click();
    await seeText(dev.locator('.device-result'), ['Dad declined the call', 'rejectVoip']);
    await seeText(dadP.locator('.notice'), 'You declined the call');
    await logRow('rejected');
  });

  await cstep('businessType 3 call: license billing, the device hangs up', async () => {
    await dial(3);
    await btn(callScreen(dadP), 'Answer').click();
    await seeText(dev.locator('.device-result'), ['Connected', 'license']);
    await btn(dev, 'Hang up').click();
    await seeText(dev.locator('.device-result'), ['You hung up', 'call ended after', 'license']);
    await seeText(callScreen(dadP), 'Li Ming hung up');
    await close();
  });

  await cstep('Nobody answers: timeout (clock +1 hour, tick)', async () => {
    await dial(0);
    await page.getByRole('button', { name: '+1 hour' }).click();
    await seeText(dev.locator('.device-result'), ['No answer', 'timeout']);
    await seeText(dadP.locator('.notice'), 'You did not answer');
    await logRow('timeout');
  });

  if (!service) {
    await cstep('Busy: a second device calls Dad during a call', async () => {
      await dial(0);
      await btn(callScreen(dadP), 'Answer').click();
      await seeText(dev.locator('.device-result'), 'Connected');
      await btn(dev, 'Call Dad from a second device').click();
      await seeText(dev.locator('.second-result'), ['Dad is busy', 'busy', 'Billed time: 0:00']);
      await seeText(devPage.locator('#log .entries'), ['busy', 'Device 2']);
      await btn(callScreen(dadP), 'Hang up').click();
      await seeText(dev.locator('.device-result'), 'Dad hung up');
      await close();
    });
  }
  if (service) {
    await cstep('Busy: a second device calls Dad during a call', async () => {
      await dial(0);
      // By keyboard: the ringing phone page has focus on Answer; Enter answers.
      await seeText(dadPage.locator(':focus'), 'Answer', 'the focused control');
      await dadPage.keyboard.press('Enter');
      await seeText(dev.locator('.device-result'), 'Connected');
      const dev2Page = await openPage(url + 'device.html?device=gate-2', 'second device page');
      const dev2 = device(dev2Page);
      await dev2.getByRole('button', { name: 'Scan Li Ming' }).click();
      await seeText(dev2.locator('.scan-status'), 'Scanned: Li Ming');
      await dev2.getByRole('radio', { name: /^Dad/ }).check();
      await btn(dev2, 'Call').click();
      await seeText(dev2.locator('.device-result'), ['Dad is busy', 'busy']);
      await shot(dev2Page, 'busy (second device)');
      await btn(callScreen(dadP), 'Hang up').focus();
      await dadPage.keyboard.press('Enter');
      await seeText(dev.locator('.device-result'), 'Dad hung up');
      await seeText(dadPage.locator(':focus'), 'Close', 'the focused control after the call');
      await dadPage.keyboard.press('Enter');
      await callScreen(dadP).waitFor({ state: 'hidden' });
      await dev2Page.context().close();
    });
    await devPage.context().close();
    await dadPage.context().close();
  }
}

async function main() {
  server = await startServer();
  const { url, port } = server;
  console.log(`demo e2e: server at ${url}`);

  // the server itself: types, traversal
  const wasm = await rawGet(port, '/pkg/campus_voip_bg.wasm');
  assert(wasm.status === 200 && wasm.type === 'application/wasm', `wasm served as ${wasm.status} ${wasm.type}`);
  const index = await rawGet(port, '/');
  assert(index.status === 200 && index.type.startsWith('text/html'), 'index.html served');
  assert(/default-src 'self'/.test(index.headers['content-security-policy'] || ''), 'the page has a same-origin CSP');
  // The service behind the same port: its health, the proxied /v1 and the demo's own config.
  const health = await rawGet(port, '/healthz');
  assert(health.status === 200 && /"ok"/.test(health.body.toString()), `/healthz answered ${health.status} ${health.body}`);
  const cfg = JSON.parse((await rawGet(port, '/demo/config')).body.toString());
  assert(cfg.mode === 'service' && /^o[A-Za-z0-9_-]{27}$/.test(cfg.parents.p2) && !('appSecret' in cfg), 'the demo config (no app secret in it)');
  const qr = await rawGet(port, '/vendor/qrcode.mjs');
  assert(qr.status === 200 && qr.type.startsWith('text/javascript'), `QR library served as ${qr.status} ${qr.type}`);
  for (const bad of ['/../package.json', '/pkg/../../Cargo.toml', '/%2e%2e/Cargo.toml', '/pkg/%2e%2e/%2e%2e/Cargo.toml', '/vendor/../package.json', '/vendor/qrcode.js', '/..%2fCargo.toml']) {
    const r = await rawGet(port, bad);
    assert(r.status === 400 || r.status === 404, `GET ${bad} answered ${r.status}`);
    assert(!/\[package\]|"devDependencies"/.test(r.body.toString()), `GET ${bad} leaked a file`);
  }

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // No camera and no prompt: the pages send their synthetic media (canvas and tone).
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
  for (mode of ['service', 'local']) {
    console.log(`demo e2e: the story on the ${mode === 'service' ? 'contact service' : 'in-page local backend (?backend=local)'}`);
    await story(url);
  }
  mode = 'camera';
  console.log('demo e2e: a call with the camera (Chromium\'s fake camera and microphone, permission granted)');
  await cameraStory(url);
}

/** The other media path: where camera and microphone are allowed, both sides send them. */
async function cameraStory(url) {
  const cam = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--use-fake-device-for-media-stream', '--autoplay-policy=no-user-gesture-required'],
  });
  try {
    const permissions = ['camera', 'microphone'];
    const devPage = await openPage(url + 'device.html', 'device page (camera)', { from: cam, permissions });
    const dadPage = await openPage(url + 'phone.html?parent=p2', 'Dad’s phone page (camera)', { from: cam, permissions });
    const dadP = phone(2, 'Dad', dadPage);
    const dev = device(devPage);
    await btn(dadP, 'Allow VoIP calls').click();
    await seeText(dadP.locator('.consent-state'), 'Allowed');
    await btn(dadP, 'Become administrator').click();
    await seeText(dadP.locator('.notice'), 'You are now Li Ming’s administrator');
    await dev.getByRole('button', { name: 'Scan Li Ming' }).click();
    await seeText(dev.locator('.scan-status'), 'Scanned: Li Ming');
    await seeText(dev.getByRole('radio', { name: /^Dad/ }).locator('xpath=..'), 'admin');
    await dev.getByRole('radio', { name: /^Dad/ }).check();
    await btn(dev, 'Call').click();
    await btn(callScreen(dadP), 'Answer').click();
    await Promise.all([mediaFlows(dev, 'the device (camera)'), mediaFlows(callScreen(dadP), 'Dad’s phone (camera)')]);
    await seeText(dev.getByTestId('media-stats'), 'sending your camera');
    await seeText(callScreen(dadP).getByTestId('media-stats'), 'sending your camera');
    assert((await btn(dev, 'Use my camera').count()) === 0, 'no “Use my camera” while the camera is sent');
    stepNo++;
    console.log(`  ✓ Both sides send the camera \x1b[2m(${await shot(devPage, 'camera call (device)')}, ${await shot(dadPage, 'camera call (Dad’s phone)')})\x1b[0m`);
    await btn(callScreen(dadP), 'Hang up').click();
    await seeText(dev.locator('.device-result'), 'Dad hung up');
  } finally {
    await cam.close();
  }
}

async function story(url) {
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  ctx.setDefaultTimeout(TIMEOUT);
  page = await ctx.newPage();
  watch(page, new URL(url).origin, 'overview');
  const home = mode === 'local' ? url + '?backend=local' : url;
  const mum = phone(1, 'Mum');
  const dad = phone(2, 'Dad');
  const gran = phone(3, 'Grandma');
  let ids;
  let link;

  await step('Page loads with three phones and a device', async () => {
    await page.goto(home);
    await ready();
    await seeText(page.locator('#mode'), mode === 'service' ? 'the contact service' : 'in this page');
    ids = await openIds();
    assert(ids.every((id) => /^o[A-Za-z0-9_-]{27}$/.test(id)), `generated openIds look real: ${ids}`);
    assert(new Set(ids).size === 3, 'three different openIds');
    await seeText(relations(), 'no contacts yet');
    await seeText(device(), 'No face scanned yet');
    if (mode === 'service') {
      // The other screens, as links and QR codes.
      const screens = page.getByRole('region', { name: 'Open on other screens' });
      assert((await screens.getByRole('link', { name: 'Dad · Phone 2' }).getAttribute('href')) === 'phone.html?parent=p2', 'a link to Dad’s phone page');
      assert((await screens.getByRole('link', { name: 'Face-pay device' }).getAttribute('href')) === 'device.html', 'a link to the device page');
      const qrDad = screens.getByRole('img', { name: 'QR code: Dad’s phone page' });
      assert((await qrDad.count()) === 1, 'a QR code for Dad’s phone page');
      const qrUrl = await qrDad.locator('xpath=..').getAttribute('data-url');
      assert(qrUrl === new URL('phone.html?parent=p2', url).href, `the QR code opens Dad’s phone page (${qrUrl})`);
      await axe(page, 'the overview (service) at the start');
    }
  });

  await step('Mum tries to become admin without consent (8)', async () => {
    await mum.getByLabel('Student').selectOption({ label: 'Li Ming · Grade 3 · Class 2' });
    await btn(mum, 'Become administrator').click();
    await seeText(mum.locator('.notice'), ['Mum has not allowed VoIP calls', 'What to do', 'Allow VoIP calls', 'errCode 8']);
  });

  await step('Mum consents and becomes administrator of Li Ming', async () => {
    await btn(mum, 'Allow VoIP calls').click();
    await seeText(mum.locator('.consent-state'), 'Allowed');
    await btn(mum, 'Become administrator').click();
    await seeText(mum.locator('.notice'), 'You are now Li Ming’s administrator');
    await seeText(mum.locator('.clist'), ['Li Ming', 'you are administrator', '1 of 3 contacts']);
    await seeText(relationsText(), 'Li Ming: Mum (admin)');
  });

  await step('Mum creates the share link (text and QR code)', async () => {
    await btn(mum, 'Create share link').click();
    await seeText(mum.locator('.share'), ['Share link for Li Ming', 'Valid until']);
    link = await mum.getByRole('textbox', { name: 'Share link for Li Ming' }).inputValue();
    assert(link.startsWith('__plugin__/wx0123456789abcdef/pages/bind-contact/bind-contact?userId=stu-3201&'), `share path: ${link}`);
    assert(/&ticket=[A-Za-z0-9._~-]+/.test(link), 'the path carries a ticket');
    const qrPaths = await mum.locator('.qr svg path').count();
    assert(qrPaths === 1, 'a QR code is drawn');
  });

  await step('Dad opens the sent link without consent: auth', async () => {
    await btn(mum, 'Send to Dad').click();
    await seeText(dialog(dad), ['Li Ming', 'Bind Dad as a contact of Li Ming', 'acceptBindContactPath only']);
    await bindOutcome(dad, 'Bind', 'auth', ['This phone has not allowed VoIP calls', 'Tap “Allow VoIP calls”']);
    await done(dad);
  });

  await step('Dad consents and binds: success', async () => {
    await btn(dad, 'Allow VoIP calls').click();
    await seeText(dad.locator('.consent-state'), 'Allowed');
    await btn(mum, 'Send to Dad').click();
    await bindOutcome(dad, 'Bind', 'success', 'you are now a contact of Li Ming');
    await done(dad);
    await seeText(dad.locator('.clist'), ['Li Ming', 'you are a contact']);
    await seeText(relationsText(), 'Li Ming: Mum (admin), Dad');
    await seeText(mum.locator('.clist'), ['2 of 3 contacts', 'Dad']);
    await btn(dad, 'Refresh list').click();
    await seeText(dad.locator('.notice'), ['List refreshed', 'Bound to 1 student']);
    await seeText(page.locator('#log .entries'), 'getVoipBindContactList');
  });

  await step('Dad pastes the same link again: binded', async () => {
    const box = dad.getByRole('textbox', { name: 'Share link to open' });
    await box.fill('');
    await box.pressSequentially(link.slice(0, 40));
    await box.fill(link); // the rest "pasted"
    await btn(dad, 'Open link').click();
    await seeText(dialog(dad), 'Heads-up');
    await bindOutcome(dad, 'Bind', 'binded', 'Already bound to Li Ming');
    await done(dad);
  });

  await step('Grandma consents and declines: cancel', async () => {
    await btn(gran, 'Allow VoIP calls').click();
    await seeText(gran.locator('.consent-state'), 'Allowed');
    await btn(mum, 'Send to Grandma').click();
    await bindOutcome(gran, 'Cancel', 'cancel', ['You declined', 'Open the same link again']);
    // By keyboard: Escape leaves the bind page.
    await btn(dialog(gran), 'Done').focus();
    await page.keyboard.press('Escape');
    await dialog(gran).waitFor({ state: 'hidden' });
    await notSeeText(relationsText(), 'Grandma', 'relationships');
  });

  await step('Limit 2: Grandma binds: overload', async () => {
    // On the service a new limit restarts it (it takes the limit at start): the pages' event
    // streams are cut and reconnect after their last event id.
    leaving.add(page);
    await page.getByLabel('Max contacts per student').fill('2');
    await page.getByRole('button', { name: 'Apply' }).click();
    await seeText(page.locator('#max-note'), 'now 2');
    await seeText(relations(), '2 of 2 contacts · full');
    await btn(gran, 'Open link').click();
    await seeText(dialog(gran), ['Heads-up', 'most contacts allowed']);
    await bindOutcome(gran, 'Bind', 'overload', ['Li Ming already has the most contacts allowed', 'at most 2 contacts', 'Ask the administrator (Mum)']);
    await done(gran);
    await page.getByLabel('Max contacts per student').fill('3');
    await page.getByRole('button', { name: 'Apply' }).click();
    await seeText(page.locator('#max-note'), 'now 3');
    await new Promise((r) => setTimeout(r, 500));
    leaving.delete(page);
  });

  await step('Mum transfers the administrator role to Dad', async () => {
    await mum.getByRole('button', { name: 'Make Dad administrator of Li Ming' }).click();
    await seeText(mum.locator('.notice'), 'Dad is now Li Ming’s administrator');
    await seeText(dad.locator('.notice'), 'You are now Li Ming’s administrator');
    await seeText(relationsText(), 'Li Ming: Dad (admin), Mum');
    await seeText(mum.locator('.share'), 'No longer works');
    await seeText(dad.locator('.clist'), ['you are administrator', '2 of 3 contacts']);
  });

  await step('The old link is now invalid', async () => {
    await btn(gran, 'Open link').click();
    await bindOutcome(gran, 'Bind', 'invalid', ['This share link is not valid', 'current administrator (Dad)']);
    await done(gran);
  });

  await step('Dad deletes Mum from Li Ming', async () => {
    await dad.getByRole('button', { name: 'Remove Mum from Li Ming' }).click();
    await seeText(dad.locator('.notice'), 'Removed Mum from Li Ming’s contacts');
    await seeText(relationsText(), 'Li Ming: Dad (admin)');
    await notSeeText(relationsText(), 'Mum', 'relationships');
    await seeText(mum.locator('.clist'), 'Not bound to any student yet');
  });

  await callStory(url, dad);

  await step('Call to a non-contact (Grandma): errCode 9', async () => {
    const dev = device();
    await dev.getByRole('button', { name: 'Scan Li Ming' }).click();
    await dev.getByRole('radio', { name: /^0 · face-pay/ }).check();
    await dev.getByRole('radio', { name: /^Grandma/ }).check();
    await btn(dev, 'Call').click();
    await seeText(dev.locator('.device-result'), ['errCode 9', 'Grandma is not one of Li Ming', 'share link']);
  });

  await step('Dad revokes consent; call to Dad: errCode 8', async () => {
    await btn(dad, 'Revoke').click();
    await seeText(dad.locator('.consent-state'), 'Not allowed');
    await seeText(relationsText(), 'Dad (admin) (calls not allowed)');
    const dev = device();
    await dev.getByRole('button', { name: 'Scan Li Ming' }).click();
    await dev.getByRole('radio', { name: /^Dad/ }).check();
    await btn(dev, 'Call').click();
    await seeText(dev.locator('.device-result'), ['errCode 8', 'Dad has not allowed VoIP calls', 'Ask Dad']);
  });

  // Late in the walk: the demo clock only moves forward (the backend never goes back in time),
  // so everything after this step happens 3 days later, until Reset.
  await step('Clock +3 days: Grandma binds: expire', async () => {
    await page.getByRole('button', { name: '+3 days' }).click();
    await seeText(page.locator('#clock-offset'), '+3 d');
    await seeText(mum.locator('.share'), 'Expired');
    await btn(gran, 'Open link').click();
    await seeText(dialog(gran), 'has expired');
    await bindOutcome(gran, 'Bind', 'expire', ['This share link has expired', 'create and send a new link']);
    await done(gran);
  });

  const beforeReload = await relationsText().innerText();
  const logEntriesBefore = await page.locator('#log .entry').count();

  await step('Reload keeps the state', async () => {
    leaving.add(page);
    await page.reload();
    await ready();
    leaving.delete(page);
    const after = await openIds();
    assert(after.join() === ids.join(), 'the same three openIds after reload');
    await seeText(relationsText(), beforeReload.trim());
    await seeText(dad.locator('.consent-state'), 'Not allowed');
    await seeText(gran.locator('.consent-state'), 'Allowed');
    await seeText(dad.locator('.clist'), ['Li Ming', 'you are administrator']);
    await seeText(page.locator('#max-note'), 'now 3');
    const n = await page.locator('#log .entry').count();
    assert(n >= logEntriesBefore, `the event log survives a reload (${n} < ${logEntriesBefore})`);
    assert((await page.locator('#log .entry[data-who="p2"]').filter({ hasText: 'bindContact' }).count()) >= 2, "Dad's bindContact events are in the log");
  });

  await step('Reset starts over', async () => {
    leaving.add(page);
    const loaded = page.waitForEvent('load', { timeout: 30000 });
    await page.getByRole('button', { name: 'Reset demo' }).click();
    await loaded;
    await ready();
    leaving.delete(page);
    const fresh = await openIds();
    assert(fresh.every((id, i) => id !== ids[i]), 'new openIds after reset');
    await seeText(relations(), 'no contacts yet');
    await notSeeText(relationsText(), 'admin', 'relationships');
    assert((await page.locator('#log .entry').count()) === 0, 'the log is empty after reset');
    await seeText(mum.locator('.consent-state'), 'Not allowed');
    await seeText(page.locator('#clock-offset'), 'real time');
    await axe(page, `the overview (${mode}) after reset`);
  });
  await ctx.close();
}

let failed = null;
try {
  await main();
} catch (e) {
  failed = e;
  if (page) await page.screenshot({ path: path.join(shots, 'FAILED.png'), fullPage: true }).catch(() => {});
}
if (browser) await browser.close().catch(() => {});
if (server) server.child.kill('SIGTERM');
fs.rmSync(profile, { recursive: true, force: true });

const secs = ((Date.now() - started) / 1000).toFixed(1);
console.log(`demo e2e: screenshots in ${shots}`);
if (problems.length) {
  console.error('\x1b[31mdemo e2e: the page reported problems:\x1b[0m\n  ' + problems.join('\n  '));
}
if (failed) {
  console.error(`\x1b[31mdemo e2e FAILED after ${secs} s:\x1b[0m ${failed.stack || failed}`);
  process.exit(1);
}
if (problems.length) process.exit(1);
console.log(`\x1b[32mdemo e2e passed\x1b[0m (${stepNo} steps, ${axeRuns} axe runs, ${secs} s)`);
