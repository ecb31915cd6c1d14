// A spec-correct UTF-8 TextEncoder / TextDecoder (WHATWG Encoding), for Mini Programs, whose
// devices have neither. The Mini Program build injects these as module-scoped bindings into the
// wasm glue (esbuild `inject`), so no global is patched. Lone surrogates encode as U+FFFD;
// invalid bytes decode as U+FFFD per maximal subpart, or throw with { fatal: true }.

const REPLACEMENT = 0xfffd;

/** The UTF-8 length of `str` (a lone surrogate counts as U+FFFD, 3 bytes). */
export function utf8Length(str) {
  let n = 0;
  for (let i = 0; i < str.length; i++) {
    const c = str.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < str.length) {
      const d = str.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/** Writes `str` from code unit `start`; stops before a character that does not fit. */
function encodeTo(str, out, start) {
  let read = start;
  let written = 0;
  const cap = out.length;
  while (read < str.length) {
    let cp = str.charCodeAt(read);
    let units = 1;
    if (cp >= 0xd800 && cp <= 0xdfff) {
      const d = read + 1 < str.length ? str.charCodeAt(read + 1) : 0;
      if (cp <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (d - 0xdc00);
        units = 2;
      } else {
        cp = REPLACEMENT;
      }
    }
    if (cp < 0x80) {
      if (written + 1 > cap) break;
      out[written++] = cp;
    } else if (cp < 0x800) {
      if (written + 2 > cap) break;
      out[written++] = 0xc0 | (cp >> 6);
      out[written++] = 0x80 | (cp & 0x3f);
    } else if (cp < 0x10000) {
      if (written + 3 > cap) break;
      out[written++] = 0xe0 | (cp >> 12);
      out[written++] = 0x80 | ((cp >> 6) & 0x3f);
      out[written++] = 0x80 | (cp & 0x3f);
    } else {
      if (written + 4 > cap) break;
      out[written++] = 0xf0 | (cp >> 18);
      out[written++] = 0x80 | ((cp >> 12) & 0x3f);
      out[written++] = 0x80 | ((cp >> 6) & 0x3f);
      out[written++] = 0x80 | (cp & 0x3f);
    }
    read += units;
  }
  return { read: read - start, written };
}

export class TextEncoder {
  get encoding() {
    return 'utf-8';
  }

  encode(input) {
    const str = input === undefined ? '' : String(input);
    const out = new Uint8Array(utf8Length(str));
    encodeTo(str, out, 0);
    return out;
  }

  encodeInto(input, dest) {
    return encodeTo(String(input), dest, 0);
  }
}

function toBytes(input) {
  if (input === undefined || input === null) return new Uint8Array(0);
  if (input instanceof Uint8Array) return input;
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  throw new TypeError('TextDecoder.decode: expected an ArrayBuffer or a view of one');
}

export class TextDecoder {
  constructor(label, options) {
    const name = label === undefined ? 'utf-8' : String(label).trim().toLowerCase();
    if (name !== 'utf-8' && name !== 'utf8' && name !== 'unicode-1-1-utf-8') {
      throw new RangeError('TextDecoder: only utf-8 is supported, got ' + label);
    }
    this.fatal = !!(options && options.fatal);
    this.ignoreBOM = !!(options && options.ignoreBOM);
  }

  get encoding() {
    return 'utf-8';
  }

  decode(input) {
    const bytes = toBytes(input);
    const units = [];
    let out = '';
    const flush = () => {
      out += String.fromCharCode.apply(null, units);
      units.length = 0;
    };
    const emit = (cp) => {
      if (cp > 0xffff) {
        cp -= 0x10000;
        units.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
      } else {
        units.push(cp);
      }
      if (units.length >= 4096) flush();
    };
    const fail = () => {
      if (this.fatal) throw new TypeError('TextDecoder: the data is not valid UTF-8');
      emit(REPLACEMENT);
    };
    let i = 0;
    if (!this.ignoreBOM && bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
      i = 3;
    }
    let needed = 0;
    let seen = 0;
    let cp = 0;
    let lower = 0x80;
    let upper = 0xbf;
    for (; i < bytes.length; i++) {
      const b = bytes[i];
      if (needed === 0) {
        if (b <= 0x7f) emit(b);
        else if (b >= 0xc2 && b <= 0xdf) {
          needed = 1;
          cp = b & 0x1f;
        } else if (b >= 0xe0 && b <= 0xef) {
          if (b === 0xe0) lower = 0xa0;
          if (b === 0xed) upper = 0x9f;
          needed = 2;
          cp = b & 0xf;
        } else if (b >= 0xf0 && b <= 0xf4) {
          if (b === 0xf0) lower = 0x90;
          if (b === 0xf4) upper = 0x8f;
          needed = 3;
          cp = b & 0x7;
        } else fail();
        continue;
      }
      if (b < lower || b > upper) {
        needed = seen = cp = 0;
        lower = 0x80;
        upper = 0xbf;
        fail();
        i--; // this byte starts afresh
        continue;
      }
      lower = 0x80;
      upper = 0xbf;
      cp = (cp << 6) | (b & 0x3f);
      if (++seen === needed) {
        emit(cp);
        needed = seen = cp = 0;
      }
    }
    if (needed !== 0) fail();
    flush();
    return out;
  }
}
