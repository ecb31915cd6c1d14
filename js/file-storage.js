// fileStorage(dir) for Node: one file per key, written to a temporary file, flushed, then
// renamed over the old one, so a crash leaves either the old or the new value, never half.
import fs from 'node:fs';
import path from 'node:path';
import { invalidArgument } from './errors.js';
import { STORE } from './storage.js';

const SUFFIX = '.cv';

// Keys are short ASCII chosen by the core; hex keeps file names portable on case-insensitive
// file systems.
const toName = (key) => Buffer.from(key, 'utf8').toString('hex') + SUFFIX;
const fromName = (name) => Buffer.from(name.slice(0, -SUFFIX.length), 'hex').toString('utf8');

export function fileStorage(dir) {
  if (typeof dir !== 'string' || dir === '') {
    throw invalidArgument('fileStorage', 'expects a directory path');
  }
  fs.mkdirSync(dir, { recursive: true });
  let seq = 0;
  const adapter = {
    get(key) {
      try {
        return fs.readFileSync(path.join(dir, toName(key)), 'utf8');
      } catch (e) {
        if (e.code === 'ENOENT') return null;
        throw e;
      }
    },
    set(key, value) {
      const file = path.join(dir, toName(key));
      const tmp = file + '.' + process.pid + '.' + seq++ + '.tmp';
      const fd = fs.openSync(tmp, 'w');
      try {
        fs.writeSync(fd, value);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, file);
    },
    remove(key) {
      try {
        fs.unlinkSync(path.join(dir, toName(key)));
      } catch (e) {
        if (e.code !== 'ENOENT') throw e;
      }
    },
    keys: () =>
      fs
        .readdirSync(dir)
        .filter((n) => n.endsWith(SUFFIX))
        .map(fromName),
  };
  // Two adapters over the same directory are the same storage.
  Object.defineProperty(adapter, STORE, { value: 'file:' + path.resolve(dir) });
  return adapter;
}
