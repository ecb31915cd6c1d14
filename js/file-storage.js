// fileStorage(dir) for Node: one file per key, written to a temporary file, flushed, then
// renamed over the old one, and the directory flushed, so a crash leaves either the old or the
// new value, never half. Files are created 0600 in a 0700 directory (they hold the backend's keys).
import fs from 'node:fs';
import path from 'node:path';
import { invalidArgument } from './errors.js';
import { STORE } from './storage.js';

const SUFFIX = '.cv';

// Keys are short ASCII chosen by the core; hex keeps file names portable on case-insensitive
// file systems.
const toName = (key) => Buffer.from(key, 'utf8').toString('hex') + SUFFIX;
const fromName = (name) => Buffer.from(name.slice(0, -SUFFIX.length), 'hex').toString('utf8');

/** Makes a rename or unlink in `dir` durable (ext4 and xfs need the directory flushed too). */
function syncDir(dir) {
  let fd;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch (e) {
    // Some file systems cannot fsync a directory (EINVAL, EISDIR on others): the rename stands.
    if (e.code !== 'EINVAL' && e.code !== 'EISDIR' && e.code !== 'EPERM') throw e;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

export function fileStorage(dir) {
  if (typeof dir !== 'string' || dir === '') {
    throw invalidArgument('fileStorage', 'expects a directory path');
  }
  // The directory holds the backend's keys: only its owner may read it.
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
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
      try {
        const fd = fs.openSync(tmp, 'w', 0o600);
        try {
          fs.writeSync(fd, value);
          fs.fsyncSync(fd);
        } finally {
          fs.closeSync(fd);
        }
        fs.renameSync(tmp, file);
      } catch (e) {
        try {
          fs.unlinkSync(tmp); // never leave a half-written temporary file behind
        } catch (_) {
          // it was never created, or was renamed already
        }
        throw e;
      }
      syncDir(dir);
    },
    remove(key) {
      try {
        fs.unlinkSync(path.join(dir, toName(key)));
      } catch (e) {
        if (e.code !== 'ENOENT') throw e;
        return;
      }
      syncDir(dir);
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
