// Entry `campus-voip/slim` for Node: the default entry's API, with the wasm supplied through
// initWasm(source); a file: URL or a path is read from disk, http(s) URLs are fetched.
import { readFile } from 'node:fs/promises';
import { buildApi } from '../api.js';
import { loadCore } from '../core.js';
import { makeMintSession } from '../mint-session.js';
import base from '../hosts/node-base.js';
import { slimHost } from '../hosts/slim.js';
import { compileBytes, fixFor, loadError, message } from '../hosts/wasm-source.js';

function readLocal(url) {
  const isFileUrl = /^file:/i.test(url);
  // Anything with a scheme other than file: (http:, https:, data:) is fetched; "C:\..." is a path.
  if (!isFileUrl && /^[a-z][a-z0-9+.-]+:/i.test(url) && !/^[a-z]:[\\/]/i.test(url)) return null;
  const target = isFileUrl ? new URL(url) : url;
  return readFile(target).then(
    (bytes) => compileBytes(bytes, String(url), 'slim', url),
    (e) => {
      throw loadError('reading ' + url + ' failed (' + message(e) + ').', fixFor('slim', url));
    },
  );
}

const { host, initWasm } = slimHost(base, readLocal);
const api = buildApi(host);

export { initWasm };
export default api.defaultInstance;
export const configure = api.configure;
export const createVoipPlugin = api.createVoipPlugin;
export const createLocalBackend = api.createLocalBackend;
export const createHttpBackend = api.createHttpBackend;
export * from './common.js';
export { fileStorage } from '../file-storage.js';
/** Node only: a contact-service session minted with its session secret (js/mint-session.js). */
export const mintSession = makeMintSession(host, loadCore);
