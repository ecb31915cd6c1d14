// Entry for the node host.
import { buildApi } from '../api.js';
import { loadCore } from '../core.js';
import { makeMintSession } from '../mint-session.js';
import host from '../hosts/node.js';

const api = buildApi(host);

export default api.defaultInstance;
export const configure = api.configure;
export const createVoipPlugin = api.createVoipPlugin;
export const createLocalBackend = api.createLocalBackend;
export const createHttpBackend = api.createHttpBackend;
export * from './common.js';
export { fileStorage } from '../file-storage.js';
/** Node only: a contact-service session minted with its session secret (js/mint-session.js). */
export const mintSession = makeMintSession(host, loadCore);
