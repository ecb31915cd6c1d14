// js/utf8.js, the TextEncoder/TextDecoder used in Mini Programs, against Node's own
// (WHATWG Encoding) on many random and hand-picked inputs.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TextDecoder as OurDecoder, TextEncoder as OurEncoder } from '../../js/utf8.js';
import { rng } from './helpers.mjs';

const NodeEncoder = globalThis.TextEncoder;
const NodeDecoder = globalThis.TextDecoder;

const ours = new OurEncoder();
const node = new NodeEncoder();

function hex(bytes) {
  return Buffer.from(bytes).toString('hex');
}

/** A random string of UTF-16 code units drawn from every interesting class. */
function randomString(random, maxLen = 40) {
  const n = Math.floor(random() * maxLen);
  let s = '';
  for (let i = 0; i < n; i++) {
    const r = random();
    if (r < 0.2) s += String.fromCharCode(Math.floor(random() * 0x80)); // ASCII incl. NUL, DEL
    else if (r < 0.35) s += String.fromCharCode(0x80 + Math.floor(random() * (0x800 - 0x80))); // 2 bytes
    else if (r < 0.5) {
      let c = 0x800 + Math.floor(random() * (0x10000 - 0x800));
      if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
      s += String.fromCharCode(c); // 3 bytes
    } else if (r < 0.7) s += String.fromCodePoint(0x10000 + Math.floor(random() * 0x100000)); // planes 1–16
    else if (r < 0.78) s += String.fromCharCode(0xd800 + Math.floor(random() * 0x400)); // lone high
    else if (r < 0.86) s += String.fromCharCode(0xdc00 + Math.floor(random() * 0x400)); // lone low
    else if (r < 0.9) s += ['\u0000', '\uffff', '\ufeff', '\ufffd', '\u07ff', '\u0800', '\ud7ff', '\ue000'][Math.floor(random() * 8)];
    else if (r < 0.95) s += ['\u{10000}', '\u{10ffff}', '\u{1f600}', '\u{e0001}', '\u{fffff}', '\u{20000}'][Math.floor(random() * 6)];
    else s += String.fromCharCode(0xdbff, 0xdfff).slice(random() < 0.5 ? 0 : 1); // pair or half
  }
  return s;
}

/** Random bytes biased towards UTF-8 structure: valid sequences, overlongs, truncations, junk. */
function randomBytes(random, maxLen = 32) {
  const out = [];
  const n = Math.floor(random() * maxLen);
  const cont = () => 0x80 + Math.floor(random() * 0x40);
  while (out.length < n) {
    const r = random();
    if (r < 0.2) out.push(Math.floor(random() * 0x80));
    else if (r < 0.3) out.push(0xc2 + Math.floor(random() * 30), cont());
    else if (r < 0.4) out.push(0xe0 + Math.floor(random() * 16), cont(), cont());
    else if (r < 0.5) out.push(0xf0 + Math.floor(random() * 5), cont(), cont(), cont());
    else if (r < 0.6) out.push(Math.floor(random() * 256)); // anything
    else if (r < 0.65) out.push(0xc0 + Math.floor(random() * 2), cont()); // overlong 2-byte
    else if (r < 0.7) out.push(0xe0, 0x80 + Math.floor(random() * 0x20), cont()); // overlong 3-byte
    else if (r < 0.75) out.push(0xf0, 0x80 + Math.floor(random() * 0x10), cont(), cont()); // overlong 4-byte
    else if (r < 0.8) out.push(0xed, 0xa0 + Math.floor(random() * 0x20), cont()); // surrogates
    else if (r < 0.85) out.push(0xf4, 0x90 + Math.floor(random() * 0x30), cont(), cont()); // > U+10FFFF
    else if (r < 0.9) out.push(0xf5 + Math.floor(random() * 11)); // never valid
    else if (r < 0.95) {
      // a truncated multi-byte sequence
      const seq = [[0xe4, 0xbd, 0xa0], [0xf0, 0x9f, 0x98, 0x80], [0xdf, 0xbf]][Math.floor(random() * 3)];
      out.push(...seq.slice(0, 1 + Math.floor(random() * (seq.length - 1))));
    } else out.push(0xef, 0xbb, 0xbf); // a BOM anywhere
  }
  return Uint8Array.from(out.slice(0, Math.max(n, 0)));
}

function decodeBoth(bytes, options) {
  const run = (D) => {
    try {
      return { value: new D('utf-8', options).decode(bytes) };
    } catch (e) {
      return { threw: e.constructor.name };
    }
  };
  return [run(OurDecoder), run(NodeDecoder)];
}

describe('TextEncoder', () => {
  test('encode matches Node on 3000 random strings (all planes, lone surrogates)', () => {
    const random = rng(1);
    for (let i = 0; i < 3000; i++) {
      const s = randomString(random);
      assert.equal(hex(ours.encode(s)), hex(node.encode(s)), JSON.stringify(s));
    }
  });

  test('encode: hand-picked edge cases and non-string inputs', () => {
    const cases = [
      '',
      'a',
      '\u0000',
      '\u007f',
      '\u0080',
      '\u07ff',
      '\u0800',
      '\uffff',
      '\ud7ff',
      '\ue000',
      '\u{10000}',
      '\u{10ffff}',
      '\ud800',
      '\udfff',
      '\ud800\ud800',
      '\udc00\ud800',
      'a\ud800b',
      'x\udbff',
      '\ufeffBOM',
      '小明😀',
      'x'.repeat(10_000) + '😀',
    ];
    for (const s of cases) assert.equal(hex(ours.encode(s)), hex(node.encode(s)), JSON.stringify(s));
    assert.equal(ours.encode().length, 0);
    assert.equal(ours.encode(undefined).length, 0);
    for (const v of [null, 42, true, { toString: () => 'obj😀' }, [1, 2]]) {
      assert.equal(hex(ours.encode(v)), hex(node.encode(v)), String(v));
    }
    assert.ok(ours.encode('x') instanceof Uint8Array);
    assert.equal(ours.encoding, 'utf-8');
    // Lone surrogates become U+FFFD (EF BF BD).
    assert.equal(hex(ours.encode('\ud800')), 'efbfbd');
  });

  test('encodeInto matches Node with small destinations (read/written, bytes, no partial characters)', () => {
    const random = rng(2);
    for (let i = 0; i < 2000; i++) {
      const s = randomString(random, 12);
      const size = Math.floor(random() * 14);
      const a = new Uint8Array(size).fill(0xaa);
      const b = new Uint8Array(size).fill(0xaa);
      const ra = ours.encodeInto(s, a);
      const rb = node.encodeInto(s, b);
      assert.deepEqual({ read: ra.read, written: ra.written }, { read: rb.read, written: rb.written }, `${JSON.stringify(s)} into ${size}`);
      assert.equal(hex(a), hex(b), `${JSON.stringify(s)} into ${size}`);
    }
    // Exact cases.
    const d = new Uint8Array(3);
    assert.deepEqual({ ...ours.encodeInto('a😀', d) }, { read: 1, written: 1 }, 'a 4-byte char that does not fit is not split');
    assert.deepEqual({ ...ours.encodeInto('', d) }, { read: 0, written: 0 });
    assert.deepEqual({ ...ours.encodeInto('😀', new Uint8Array(4)) }, { read: 2, written: 4 });
    assert.deepEqual({ ...ours.encodeInto('\ud800x', new Uint8Array(3)) }, { read: 1, written: 3 });
    assert.deepEqual({ ...ours.encodeInto('abc', new Uint8Array(0)) }, { read: 0, written: 0 });
    // A view into a larger buffer writes only inside the view.
    const big = new Uint8Array(8).fill(0);
    const view = big.subarray(2, 5);
    ours.encodeInto('héllo', view);
    const big2 = new Uint8Array(8).fill(0);
    node.encodeInto('héllo', big2.subarray(2, 5));
    assert.equal(hex(big), hex(big2));
  });
});

describe('TextDecoder', () => {
  test('decode matches Node on 4000 random byte arrays (replacement mode)', () => {
    const random = rng(3);
    for (let i = 0; i < 4000; i++) {
      const bytes = randomBytes(random);
      const [a, b] = decodeBoth(bytes);
      assert.deepEqual(a, b, hex(bytes));
    }
  });

  test('fatal mode throws a TypeError exactly when Node does; ignoreBOM as Node', () => {
    const random = rng(4);
    let threw = 0;
    for (let i = 0; i < 3000; i++) {
      const bytes = randomBytes(random, 16);
      for (const options of [{ fatal: true }, { ignoreBOM: true }, { fatal: true, ignoreBOM: true }]) {
        const [a, b] = decodeBoth(bytes, options);
        assert.deepEqual(a, b, `${hex(bytes)} ${JSON.stringify(options)}`);
        if (a.threw) threw++;
      }
    }
    assert.ok(threw > 100, 'the random inputs include invalid ones');
  });

  test('round trip: decode(encode(s)) equals Node on random strings; valid UTF-8 never throws in fatal mode', () => {
    const random = rng(5);
    const fatal = new OurDecoder('utf-8', { fatal: true });
    for (let i = 0; i < 2000; i++) {
      const s = randomString(random);
      const bytes = node.encode(s);
      assert.equal(fatal.decode(bytes), new NodeDecoder().decode(bytes));
    }
  });

  test('hand-picked invalid sequences (maximal subparts, overlongs, surrogates, truncation)', () => {
    const cases = [
      [],
      [0x80],
      [0xbf, 0x80],
      [0xc0, 0x80],
      [0xc1, 0xbf],
      [0xc2],
      [0xc2, 0x41],
      [0xe0, 0x80, 0x80],
      [0xe0, 0x9f, 0xbf],
      [0xe0, 0xa0],
      [0xe0, 0xa0, 0x41],
      [0xed, 0xa0, 0x80],
      [0xed, 0x9f, 0xbf],
      [0xef, 0xbf, 0xbf],
      [0xf0, 0x80, 0x80, 0x80],
      [0xf0, 0x8f, 0xbf, 0xbf],
      [0xf0, 0x90, 0x80],
      [0xf0, 0x90, 0x80, 0x41],
      [0xf4, 0x8f, 0xbf, 0xbf],
      [0xf4, 0x90, 0x80, 0x80],
      [0xf5, 0x80, 0x80, 0x80],
      [0xf8, 0x88, 0x80, 0x80, 0x80],
      [0xfe],
      [0xff],
      [0xe1, 0x80, 0xe2, 0xf0, 0x91, 0x92, 0xf1, 0xbf, 0x41], // the Unicode standard's example
      [0x61, 0xf1, 0x80, 0x80, 0xe1, 0x80, 0xc2, 0x62, 0x80, 0x63, 0x80, 0xbf, 0x64],
    ];
    for (const c of cases) {
      const bytes = Uint8Array.from(c);
      for (const options of [undefined, { fatal: true }]) {
        const [a, b] = decodeBoth(bytes, options);
        assert.deepEqual(a, b, `${hex(bytes)} ${JSON.stringify(options)}`);
      }
    }
    assert.equal(new OurDecoder().decode(Uint8Array.of(0xe0, 0x80, 0x80)), '\ufffd\ufffd\ufffd');
    assert.throws(() => new OurDecoder('utf-8', { fatal: true }).decode(Uint8Array.of(0xc2)), TypeError);
  });

  test('BOM: stripped once at the start unless ignoreBOM; kept elsewhere', () => {
    const bom = [0xef, 0xbb, 0xbf];
    const cases = [bom, [...bom, 0x41], [...bom, ...bom, 0x41], [0x41, ...bom], [0xef, 0xbb], [0xef], [...bom.slice(0, 2), 0x41]];
    for (const c of cases) {
      for (const options of [undefined, { ignoreBOM: true }, { fatal: true }, { ignoreBOM: true, fatal: true }]) {
        const [a, b] = decodeBoth(Uint8Array.from(c), options);
        assert.deepEqual(a, b, `${hex(c)} ${JSON.stringify(options)}`);
      }
    }
    assert.equal(new OurDecoder().decode(Uint8Array.from([...bom, 0x41])), 'A');
    assert.equal(new OurDecoder('utf-8', { ignoreBOM: true }).decode(Uint8Array.from([...bom, 0x41])), '\ufeffA');
  });

  test('inputs: ArrayBuffer, DataView, other typed arrays, subarrays, undefined; bad inputs throw TypeError', () => {
    const bytes = node.encode('héllo 世界 😀');
    const padded = new Uint8Array(bytes.length + 6);
    padded.set(bytes, 3);
    const sub = padded.subarray(3, 3 + bytes.length);
    const inputs = [
      bytes,
      bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
      new DataView(padded.buffer, 3, bytes.length),
      sub,
      new Int8Array(padded.buffer, 3, bytes.length),
      Buffer.from(bytes),
    ];
    for (const input of inputs) {
      assert.equal(new OurDecoder().decode(input), 'héllo 世界 😀');
      assert.equal(new OurDecoder().decode(input), new NodeDecoder().decode(input));
    }
    const u16 = new Uint16Array([0x6968, 0x2121]);
    assert.equal(new OurDecoder().decode(u16), new NodeDecoder().decode(u16));
    assert.equal(new OurDecoder().decode(), '');
    assert.equal(new OurDecoder().decode(undefined), '');
    for (const bad of ['string', 42, {}, [0x41]]) {
      assert.throws(() => new OurDecoder().decode(bad), TypeError, String(bad));
      assert.throws(() => new NodeDecoder().decode(bad), TypeError);
    }
  });

  test('labels and properties', () => {
    for (const label of [undefined, 'utf-8', 'UTF-8', 'utf8', ' utf-8 ', 'unicode-1-1-utf-8']) {
      const d = new OurDecoder(label);
      assert.equal(d.encoding, 'utf-8');
      assert.equal(new NodeDecoder(label).encoding, 'utf-8');
    }
    for (const label of ['latin1', 'utf-16le', 'nope', '']) {
      assert.throws(() => new OurDecoder(label), RangeError, label);
    }
    const d = new OurDecoder('utf-8', { fatal: 1, ignoreBOM: 'yes' });
    assert.equal(d.fatal, true);
    assert.equal(d.ignoreBOM, true);
    assert.equal(new OurDecoder().fatal, false);
    assert.equal(new OurDecoder().ignoreBOM, false);
  });

  test('long inputs (chunked output) match Node', () => {
    const random = rng(6);
    let s = '';
    while (s.length < 50_000) s += randomString(random, 100);
    const bytes = node.encode(s);
    assert.equal(new OurDecoder().decode(bytes), new NodeDecoder().decode(bytes));
    assert.equal(hex(ours.encode(s)), hex(bytes));
    const junk = new Uint8Array(40_000);
    for (let i = 0; i < junk.length; i++) junk[i] = Math.floor(random() * 256);
    assert.equal(new OurDecoder().decode(junk), new NodeDecoder().decode(junk));
  });
});
