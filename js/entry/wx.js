// Entry for the wx host.
import { buildApi } from '../api.js';
import host from '../hosts/wx.js';

const api = buildApi(host);

export default api.defaultInstance;
export const configure = api.configure;
export const createVoipPlugin = api.createVoipPlugin;
export const createLocalBackend = api.createLocalBackend;
export const createHttpBackend = api.createHttpBackend;
export * from './common.js';
export { fileStorage } from '../no-file-storage.js';
export { mintSession } from '../no-mint-session.js';
