// Entry `campus-voip/slim` for browsers: the default entry's API, with the wasm supplied by the
// page through initWasm(source). No reference to the wasm file, so no bundler has to find it.
import { buildApi } from '../api.js';
import base from '../hosts/browser-base.js';
import { slimHost } from '../hosts/slim.js';

const { host, initWasm } = slimHost(base, null);
const api = buildApi(host);

export { initWasm };
export default api.defaultInstance;
export const configure = api.configure;
export const createVoipPlugin = api.createVoipPlugin;
export const createLocalBackend = api.createLocalBackend;
export const createHttpBackend = api.createHttpBackend;
export * from './common.js';
export { fileStorage } from '../no-file-storage.js';
export { mintSession } from '../no-mint-session.js';
